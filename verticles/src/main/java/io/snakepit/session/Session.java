package io.snakepit.session;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One session: an expiring, named record that a client creates, runs tools
 * in, and keeps state in. Immutable; every change makes a new copy with a
 * higher {@link #version()}.
 *
 * <p>Metadata, programs and variables are each stamped with the hybrid
 * logical clock time and node of their last write (see {@link Stamped}), so
 * that two diverged copies merge per entry with {@link #merge}. A deleted
 * session is kept for a while as a tombstone ({@link #deletedHlc()} > 0) so
 * that an older copy cannot bring it back.
 *
 * @param id           1-128 characters of {@code [A-Za-z0-9._:-]}
 * @param createdAt    creation time, epoch milliseconds
 * @param accessedAt   last access, epoch milliseconds; the TTL slides from here
 * @param ttlMs        time to live after the last access
 * @param version      optimistic-concurrency version, +1 on every change
 * @param lastNode     the node that last ran a call in this session, or null
 * @param lastWorker   the worker that last ran a call in this session, or null
 * @param metadata     string keys to JSON values
 * @param programs     program id to JSON document
 * @param variables    name to JSON value, or to a {@link Counter}
 * @param deletedHlc   0 for a live session; the delete's timestamp for a tombstone
 */
public record Session(String id, long createdAt, long accessedAt, long ttlMs, long version, String lastNode,
                      String lastWorker, Map<String, Stamped> metadata, Map<String, Stamped> programs,
                      Map<String, Stamped> variables, long deletedHlc) {

  public Session {
    metadata = metadata == null || metadata.isEmpty() ? Map.of() : metadata;
    programs = programs == null || programs.isEmpty() ? Map.of() : programs;
    variables = variables == null || variables.isEmpty() ? Map.of() : variables;
  }

  /** A new, empty session. */
  /**
   * Metadata key under which a session's exported Python-side state waits for
   * its next worker ({@code {"data": base64, "from_node", "from_worker", "checkpoint"}}); a
   * checkpoint stays while the node that took it serves the session, a drain's export does not.
   * Reserved keys are not shown by {@link #toJson()} and not counted against limits.
   */
  public static final String HANDOFF_KEY = io.snakepit.contract.Reserved.PREFIX + "handoff";

  /**
   * Reserved metadata key that stamps the served-by record ({@link #lastNode}, {@link #lastWorker}) with the
   * hybrid-logical-clock time of its last change ({@code {"node", "worker"}}), so that a merge keeps the record
   * written last. Chosen by the copies' last access instead, a merge could pick a stale copy's record: access
   * times move in steps of the touch granularity and on wall clocks, and the session's next call would then look
   * for its Python-side state where it no longer is.
   */
  public static final String SERVED_KEY = io.snakepit.contract.Reserved.PREFIX + "served";

  /** Whether exported Python-side state waits to be imported. */
  public boolean hasHandoff() {
    Stamped h = metadata.get(HANDOFF_KEY);
    return h != null && !h.deleted();
  }

  public static Session create(String id, long now, long ttlMs) {
    return new Session(id, now, now, ttlMs, 1, null, null, null, null, null, 0);
  }

  public boolean isDeleted() {
    return deletedHlc != 0;
  }

  /** When the session expires if nobody touches it, epoch milliseconds. */
  public long expiresAt() {
    return accessedAt + ttlMs;
  }

  public boolean isExpired(long now) {
    return now >= expiresAt();
  }

  /** A variable's value, or null when it is not set (or deleted). */
  public Object variable(String name) {
    Stamped s = variables.get(name);
    return s == null || s.deleted() ? null : s.value();
  }

  /** Whether the variable is set. */
  public boolean hasVariable(String name) {
    Stamped s = variables.get(name);
    return s != null && !s.deleted();
  }

  /** The latest HLC stamp of any entry or of the delete: what a node merging this copy must have seen. */
  public long latestStamp() {
    long max = deletedHlc;
    for (Map<String, Stamped> m : List.of(metadata, programs, variables)) {
      for (Stamped v : m.values()) {
        max = Math.max(max, v.hlc());
      }
    }
    return max;
  }

  /** How many live (not deleted) variables it has. */
  public int variableCount() {
    return liveCount(variables);
  }

  public int programCount() {
    return liveCount(programs);
  }

  private static int liveCount(Map<String, Stamped> m) {
    int n = 0;
    for (Stamped s : m.values()) {
      if (!s.deleted()) {
        n++;
      }
    }
    return n;
  }

  // ---- changes: each returns a new copy with the next version ----------------------------------

  public Session withVariable(String name, Stamped value) {
    return new Session(id, createdAt, accessedAt, ttlMs, version + 1, lastNode, lastWorker, metadata, programs,
        put(variables, name, value), deletedHlc);
  }

  /**
   * This session with counter {@code name} moved by {@code by} in {@code node}'s totals, stamped {@code hlc}; a
   * name not set (or deleted) starts a counter at zero.
   *
   * @throws SnakepitException {@code bad_request} when the variable holds a value that is not a counter
   */
  public Session withIncrement(String name, long by, long hlc, String node) {
    Stamped current = variables.get(name);
    if (current != null && !current.deleted() && !current.isCounter()) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "Variable '" + name + "' of session '" + id + "' holds a "
          + "value set with put, not a counter; a counter needs a name of its own (or delete the variable first). "
          + "Nothing was changed.", null, new JsonObject().put("session_id", id).put("name", name));
    }
    Counter c = current == null || current.deleted() ? Counter.ZERO : current.counter();
    return withVariable(name, Stamped.counter(c.add(node, by), hlc, node));
  }

  /**
   * Refuses a put or delete of a variable that is a counter: counters only move by increments, so that they merge
   * exactly after a partition, and they go with their session.
   *
   * @throws SnakepitException {@code bad_request} when {@code name} is a counter
   */
  public void checkNotCounter(String name) {
    Stamped current = variables.get(name);
    if (current != null && current.isCounter()) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "Variable '" + name + "' of session '" + id + "' is a "
          + "counter: it only moves by increments and is removed with its session. Nothing was changed.", null,
          new JsonObject().put("session_id", id).put("name", name));
    }
  }

  public Session withProgram(String programId, Stamped doc) {
    return new Session(id, createdAt, accessedAt, ttlMs, version + 1, lastNode, lastWorker, metadata,
        put(programs, programId, doc), variables, deletedHlc);
  }

  public Session withMetadata(String key, Stamped value) {
    return new Session(id, createdAt, accessedAt, ttlMs, version + 1, lastNode, lastWorker,
        put(metadata, key, value), programs, variables, deletedHlc);
  }

  public Session withTtl(long newTtlMs) {
    return new Session(id, createdAt, accessedAt, newTtlMs, version + 1, lastNode, lastWorker, metadata, programs,
        variables, deletedHlc);
  }

  /**
   * This session with the record that {@code worker} on {@code node} served a call, or this session itself when
   * there is nothing to record: the record is there already, or it would overwrite another node's claim (that
   * node claimed the session after the call began, {@link SessionStore#claim}, and has not served it yet; the
   * session's next call must look for its state at the claimant).
   */
  public Session afterServing(String node, String worker, long hlc, String writer) {
    boolean claimedByAnother = lastNode != null && !lastNode.equals(node) && lastWorker == null;
    boolean recorded = java.util.Objects.equals(lastNode, node) && java.util.Objects.equals(lastWorker, worker);
    return claimedByAnother || recorded ? this : servedBy(node, worker, hlc, writer);
  }

  /**
   * Records the node and worker that served a call (a worker of null: the node claimed the session), stamped at
   * {@code hlc} by node {@code writer} ({@link #SERVED_KEY}).
   */
  public Session servedBy(String node, String worker, long hlc, String writer) {
    Map<String, Stamped> meta = put(metadata, SERVED_KEY,
        Stamped.of(new JsonObject().put("node", node).put("worker", worker), hlc, writer));
    return new Session(id, createdAt, accessedAt, ttlMs, version + 1, node, worker, meta, programs, variables,
        deletedHlc);
  }

  /** Slides the TTL. Not a content change: the version stays. */
  public Session touched(long now) {
    if (now <= accessedAt) {
      return this;
    }
    return new Session(id, createdAt, now, ttlMs, version, lastNode, lastWorker, metadata, programs, variables,
        deletedHlc);
  }

  /** This session as a tombstone: no content, remembered as deleted at {@code hlc}. */
  public Session deleted(long hlc) {
    return new Session(id, createdAt, accessedAt, ttlMs, version + 1, null, null, null, null, null, hlc);
  }

  private static Map<String, Stamped> put(Map<String, Stamped> m, String k, Stamped v) {
    Map<String, Stamped> copy = new HashMap<>(m.size() + 2);
    copy.putAll(m);
    copy.put(k, v);
    return copy;
  }

  // ---- merge -----------------------------------------------------------------------------------

  /**
   * Merges two copies of one session that diverged (after a network partition,
   * say). Each variable, program and metadata entry keeps its last write by
   * hybrid logical clock; a delete of the whole session wins over any write,
   * so a stale copy cannot resurrect it. The merge is commutative, associative
   * and idempotent, so replicas converge whatever order they merge in.
   */
  public static Session merge(Session a, Session b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    if (a.isDeleted() || b.isDeleted()) {
      Session t = !b.isDeleted() || (a.isDeleted() && a.deletedHlc >= b.deletedHlc) ? a : b;
      long created = Math.min(a.createdAt, b.createdAt);
      return new Session(t.id, created, Math.max(a.accessedAt, b.accessedAt), Math.max(a.ttlMs, b.ttlMs),
          Math.max(a.version, b.version), null, null, null, null, null, Math.max(a.deletedHlc, b.deletedHlc));
    }
    Map<String, Stamped> meta = mergeMaps(a.metadata, b.metadata);
    String node;
    String worker;
    Stamped served = meta.get(SERVED_KEY);
    if (served != null && served.value() instanceof JsonObject record) {
      // The served-by record written last, by hybrid logical clock, on either side.
      node = record.getString("node");
      worker = record.getString("worker");
    } else {
      // Copies from before the record was stamped: the copy accessed last.
      Session recent = a.accessedAt > b.accessedAt
          || (a.accessedAt == b.accessedAt && compareServedBy(a, b) >= 0) ? a : b;
      node = recent.lastNode;
      worker = recent.lastWorker;
    }
    return new Session(a.id, Math.min(a.createdAt, b.createdAt), Math.max(a.accessedAt, b.accessedAt),
        Math.max(a.ttlMs, b.ttlMs), Math.max(a.version, b.version), node, worker,
        meta, mergeMaps(a.programs, b.programs), mergeMaps(a.variables, b.variables), 0);
  }

  private static int compareServedBy(Session a, Session b) {
    int byNode = compareNullable(a.lastNode, b.lastNode);
    return byNode != 0 ? byNode : compareNullable(a.lastWorker, b.lastWorker);
  }

  private static int compareNullable(String x, String y) {
    if (x == null) {
      return y == null ? 0 : -1;
    }
    return y == null ? 1 : x.compareTo(y);
  }

  private static Map<String, Stamped> mergeMaps(Map<String, Stamped> a, Map<String, Stamped> b) {
    if (a.isEmpty()) {
      return b;
    }
    if (b.isEmpty()) {
      return a;
    }
    Map<String, Stamped> out = new HashMap<>(a);
    b.forEach((k, v) -> out.merge(k, v, Stamped::merge));
    return out;
  }

  // ---- JSON ------------------------------------------------------------------------------------

  /** The public view: values only, as the HTTP API and clients see it. */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("id", id).put("created_at", createdAt).put("accessed_at", accessedAt)
        .put("expires_at", expiresAt()).put("ttl_s", ttlMs / 1000.0).put("version", version);
    if (lastNode != null) {
      j.put("last_node", lastNode);
    }
    if (lastWorker != null) {
      j.put("last_worker", lastWorker);
    }
    JsonObject meta = values(metadata);
    meta.fieldNames().removeIf(io.snakepit.contract.Reserved::isReserved);
    j.put("metadata", meta).put("variables", values(variables));
    if (hasHandoff()) {
      j.put("handoff_pending", true);
      if (metadata.get(HANDOFF_KEY).value() instanceof JsonObject h && h.getBoolean("checkpoint", false)) {
        j.put("handoff_checkpoint", true);
      }
    }
    JsonObject progs = new JsonObject();
    programs.forEach((k, v) -> {
      if (!v.deleted()) {
        progs.put(k, v.value());
      }
    });
    j.put("program_ids", new io.vertx.core.json.JsonArray(new java.util.ArrayList<>(progs.fieldNames())));
    return j;
  }

  /** Live variables as a JSON object. */
  public JsonObject variablesJson() {
    return values(variables);
  }

  private static JsonObject values(Map<String, Stamped> m) {
    JsonObject o = new JsonObject();
    m.forEach((k, v) -> {
      if (!v.deleted()) {
        o.put(k, v.value());
      }
    });
    return o;
  }

  /** The full form, with stamps and tombstones: what stores persist and export writes. */
  public JsonObject toStorageJson() {
    JsonObject j = new JsonObject().put("id", id).put("created_at", createdAt).put("accessed_at", accessedAt)
        .put("ttl_ms", ttlMs).put("version", version);
    if (lastNode != null) {
      j.put("last_node", lastNode);
    }
    if (lastWorker != null) {
      j.put("last_worker", lastWorker);
    }
    if (deletedHlc != 0) {
      j.put("deleted_hlc", deletedHlc);
    }
    if (!metadata.isEmpty()) {
      j.put("metadata", stamped(metadata));
    }
    if (!programs.isEmpty()) {
      j.put("programs", stamped(programs));
    }
    if (!variables.isEmpty()) {
      j.put("variables", stamped(variables));
    }
    return j;
  }

  /**
   * The export form: {@link #toStorageJson()} without the node's reserved
   * metadata (such as handed-off Python-side state), which never leaves the node.
   */
  public JsonObject toExportJson() {
    JsonObject j = toStorageJson();
    JsonObject meta = j.getJsonObject("metadata");
    if (meta != null) {
      meta.fieldNames().removeIf(io.snakepit.contract.Reserved::isReserved);
      if (meta.isEmpty()) {
        j.remove("metadata");
      }
    }
    return j;
  }

  private static JsonObject stamped(Map<String, Stamped> m) {
    JsonObject o = new JsonObject();
    m.forEach((k, v) -> {
      JsonObject e = new JsonObject().put("t", v.hlc()).put("n", v.node());
      if (v.deleted()) {
        e.put("d", true);
      } else {
        e.put("v", v.value());
      }
      if (v.isCounter()) {
        e.put("c", v.counter().toJson());
      }
      o.put(k, e);
    });
    return o;
  }

  /**
   * Reads {@link #toStorageJson()}'s form.
   *
   * @throws IllegalArgumentException naming the field that is wrong
   */
  public static Session fromStorageJson(JsonObject j) {
    try {
      String id = j.getString("id");
      if (id == null || !SessionIds.isValid(id)) {
        throw new IllegalArgumentException("'id' must be 1-128 characters of [A-Za-z0-9._:-], got " + id);
      }
      return new Session(id, req(j, "created_at"), req(j, "accessed_at"), req(j, "ttl_ms"), req(j, "version"),
          j.getString("last_node"), j.getString("last_worker"), readStamped(j, "metadata"),
          readStamped(j, "programs"), readStamped(j, "variables"), j.getLong("deleted_hlc", 0L));
    } catch (ClassCastException e) {
      throw new IllegalArgumentException("a field has the wrong type: " + e.getMessage());
    }
  }

  private static long req(JsonObject j, String key) {
    Long v = j.getLong(key);
    if (v == null) {
      throw new IllegalArgumentException("'" + key + "' is missing");
    }
    return v;
  }

  private static Map<String, Stamped> readStamped(JsonObject j, String key) {
    JsonObject o = j.getJsonObject(key);
    if (o == null || o.isEmpty()) {
      return Map.of();
    }
    Map<String, Stamped> out = new HashMap<>(o.size() * 2);
    for (String k : o.fieldNames()) {
      JsonObject e = o.getJsonObject(k);
      if (e == null || e.getLong("t") == null || e.getString("n") == null) {
        throw new IllegalArgumentException("'" + key + "." + k + "' must be {\"v\",\"t\",\"n\"}");
      }
      JsonObject counter = e.getJsonObject("c");
      out.put(k, counter != null && !e.getBoolean("d", false)
          ? Stamped.counter(Counter.fromJson(counter), e.getLong("t"), e.getString("n"))
          : new Stamped(e.getValue("v"), e.getLong("t"), e.getString("n"), e.getBoolean("d", false)));
    }
    return out;
  }
}
