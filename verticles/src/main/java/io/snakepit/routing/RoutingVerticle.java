package io.snakepit.routing;

import io.snakepit.config.ConfigReader;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.BytePaths;
import io.snakepit.contract.ClusterSubscriptions;
import io.snakepit.contract.CorrelatedLog;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.ExecuteRequestCodec;
import io.snakepit.contract.Headers;
import io.snakepit.contract.LocalCodecs;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routing: keeps the ring of live nodes and sends each call to the node that
 * should run it. A call in a session goes to the session's owner on the ring,
 * where the supervisor prefers the worker that holds the session's state; a
 * call without a session goes to the least-loaded node, preferring this one.
 *
 * <p>Membership comes from heartbeats that every routing verticle publishes on
 * {@link Addresses#RING_HEARTBEAT}: a node silent for {@code failure-timeout-ms}
 * is gone, and the calls in flight on it fail with {@code node_lost} instead
 * of hanging. A call whose owner cannot be reached while the ring converges
 * is retried until {@code forward-retry-ms}; forwarding is bounded by
 * {@code max-hops}, so nodes that briefly disagree cannot bounce a call forever.
 * On a single node the ring has one member and every call stays local.
 */
public class RoutingVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(RoutingVerticle.class);
  private static final long COUNT_MS = 5_000;

  private String nodeId;
  private String http;
  /** The node's other addresses, as the node reports them: gRPC, Hazelcast, the clustered event bus. */
  private String grpc;
  private String clusterAddress;
  private String busAddress;
  private int workersReady;
  private int workersSize;
  /** Sessions per ring owner among this member's share of the store, counted every {@link #COUNT_MS}. */
  private JsonObject ownedCounts;
  private io.snakepit.session.SessionStoreClient sessions;
  private long countTimer = -1;
  private ClusterSubscriptions clusterConsumers;
  private long failureTimeoutNanos;
  private long lastTickNanos;
  /** Nodes that stopped answering, so that their return is announced (node.joined, reason returned). */
  private final Set<String> lostNodes = new HashSet<>();
  private long heartbeatMs;
  private long forwardRetryMs;
  private int maxHops;
  private NodeDirectory directory;
  private volatile boolean draining;
  private int localFree;
  private long heartbeatTimer = -1;
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  /** Calls forwarded to each node and not yet answered: failed at once if that node disappears. */
  private final Map<String, Set<Forward>> inflight = new HashMap<>();

  /** One forwarded call, failed by whoever comes first: its reply, or the loss of its node. */
  private static final class Forward {
    final Message<Object> msg;
    final String sink;
    boolean done;

    Forward(Message<Object> msg, String sink) {
      this.msg = msg;
      this.sink = sink;
    }
  }

  @Override
  public Future<?> start() {
    sessions = io.snakepit.session.SessionStoreClient.local(vertx);
    try {
      ConfigReader r = new ConfigReader(config(), "routing");
      nodeId = r.string("node-id", null);
      if (nodeId == null) {
        throw new io.snakepit.config.ConfigException("node-id is required");
      }
      http = r.string("http", null);
      grpc = r.string("grpc", null);
      clusterAddress = r.string("cluster", null);
      busAddress = r.string("bus", null);
      RoutingSettings settings = RoutingSettings.read(r);
      r.rejectUnknownKeys();
      heartbeatMs = settings.heartbeatMs();
      forwardRetryMs = settings.forwardRetryMs();
      maxHops = settings.maxHops();
      directory = new NodeDirectory(settings.failureTimeoutMs());
      failureTimeoutNanos = settings.failureTimeoutMs() * 1_000_000;
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    EventBus eb = vertx.eventBus();
    ExecuteRequestCodec.register(vertx);
    LocalCodecs.register(vertx);
    // Node-local senders (the front doors) hand over the call itself; what goes back to them is handed over too.
    consumers.add(eb.localConsumer(Addresses.EXECUTE, m -> route(m, false, 0, deadline(), true)));
    consumers.add(eb.localConsumer(Addresses.STREAM_OPEN, m -> route(m, true, 0, deadline(), true)));
    clusterConsumers = new ClusterSubscriptions(vertx);
    List<Future<Void>> registered = new ArrayList<>();
    registered.add(clusterConsumers.addAny(Addresses.node(nodeId, "execute"),
        m -> route(m, false, hops(m), deadline(), false)));
    registered.add(clusterConsumers.addAny(Addresses.node(nodeId, "stream.open"),
        m -> route(m, true, hops(m), deadline(), false)));
    registered.add(clusterConsumers.add(Addresses.RING_HEARTBEAT, m -> onHeartbeat(m.body())));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.CLUSTER_VIEW, m -> m.reply(view())));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.SESSION_OWNER, m -> {
      String id = m.body() == null ? null : m.body().getString("id");
      m.reply(new JsonObject().put("owner", id == null ? null : ownerOf(id)));
    }));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.DRAIN, this::onDrain));
    consumers.forEach(c -> registered.add(c.completion()));
    return Future.all(registered).compose(v -> heartbeat()).onSuccess(v -> {
      heartbeatTimer = vertx.setPeriodic(heartbeatMs, t -> heartbeat());
      countTimer = vertx.setPeriodic(COUNT_MS, t -> countOwnedSessions());
    });
  }

  /**
   * Asks this node's session store how many of the sessions it holds (its
   * share of the cluster's data) each ring member owns; the heartbeat carries
   * the counts, and every node's view sums them per owner.
   */
  private void countOwnedSessions() {
    JsonObject ring = new JsonObject();
    directory.ringMembers().forEach(ring::put);
    sessions.countByOwner(ring)
        .onSuccess(counts -> ownedCounts = counts)
        .onFailure(t -> LOG.debug("Counting sessions per owner failed: {}", t.toString()));
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    vertx.cancelTimer(heartbeatTimer);
    vertx.cancelTimer(countTimer);
    // Tell the others at once, rather than letting them wait for the failure timeout; a node that stops
    // reports its own departure, one that crashes is reported by the others (nodeGone).
    vertx.eventBus().publish(Addresses.RING_HEARTBEAT, heartbeatBody().put("leaving", true));
    publishEvent("node.left", new JsonObject().put("reason", "stopped"));
    consumers.forEach(MessageConsumer::unregister);
    return clusterConsumers == null ? Future.succeededFuture() : clusterConsumers.close();
  }

  private long deadline() {
    return System.nanoTime() + forwardRetryMs * 1_000_000;
  }

  private static int hops(Message<?> m) {
    try {
      return Integer.parseInt(m.headers().get(Headers.HOPS));
    } catch (RuntimeException e) {
      return 0;
    }
  }

  // ---- membership ------------------------------------------------------------------------------

  private JsonObject heartbeatBody() {
    return new JsonObject().put("node", nodeId).put("http", http).put("grpc", grpc).put("cluster", clusterAddress)
        .put("bus", busAddress).put("draining", draining)
        .put("capacity", Math.max(1, capacity)).put("free", localFree).put("queued", localQueued)
        .put("workers", new JsonObject().put("ready", workersReady).put("size", workersSize))
        .put("owned", ownedCounts).put("at", System.currentTimeMillis());
  }

  private int capacity = 1;
  private int localQueued;
  /** Set by {@link #stop()}: no heartbeat is published after the one that says this node is leaving. */
  private volatile boolean stopped;

  private Future<Void> heartbeat() {
    return vertx.eventBus().<JsonObject>request(Addresses.POOLS, new JsonObject())
        .map(m -> {
          int cap = 0;
          int free = 0;
          int queued = 0;
          int ready = 0;
          int size = 0;
          for (Object o : m.body().getJsonArray("pools", new JsonArray())) {
            JsonObject p = (JsonObject) o;
            int conc = p.getInteger("concurrency", 1);
            cap += p.getInteger("size", 0) * conc;
            free += p.getInteger("ready", 0) * conc - p.getInteger("inflight", 0);
            queued += p.getInteger("queue_depth", 0);
            ready += p.getInteger("ready", 0);
            size += p.getInteger("size", 0);
          }
          capacity = cap;
          workersReady = ready;
          workersSize = size;
          localFree = Math.max(0, free);
          localQueued = queued;
          return (Void) null;
        })
        .recover(t -> Future.succeededFuture()) // no supervisor here (a client-only member): advertise defaults
        .onComplete(v -> {
          if (stopped) {
            // Begun before stop(), which said "leaving": a heartbeat now would put this node back in the
            // others' rings, and they would report it lost a failure timeout later (a second node.left).
            return;
          }
          vertx.eventBus().publish(Addresses.RING_HEARTBEAT, heartbeatBody());
          long now = System.nanoTime();
          if (lastTickNanos != 0 && now - lastTickNanos > failureTimeoutNanos) {
            // This node itself was not running (frozen, a long pause): the silence it sees is its own, so it
            // waits a full timeout for the others' heartbeats instead of declaring them all lost.
            directory.heardAllAt(now);
          }
          lastTickNanos = now;
          checkOwnHeartbeat(now);
          Collection<String> gone = directory.expire(now);
          gone.forEach(id -> nodeGone(id, true));
        });
  }

  /**
   * A node always hears its own heartbeat, unless the clustered event bus lost
   * its subscriptions (after a member came back from a freeze or a partition,
   * eclipse-vertx/vert.x#4394). Then every verticle of the node registers its
   * cluster-wide consumers again ({@link Addresses#RESUBSCRIBE}); meanwhile it
   * counts itself as heard, so that it does not report its own loss.
   */
  private void checkOwnHeartbeat(long now) {
    NodeDirectory.NodeInfo self = directory.get(nodeId);
    if (self != null && now - self.heardAtNanos() > failureTimeoutNanos) {
      LOG.error("Node {} no longer hears its own heartbeats: the clustered event bus lost its subscriptions; "
          + "registering them again", nodeId);
      vertx.eventBus().publish(Addresses.RESUBSCRIBE, new JsonObject(), new DeliveryOptions().setLocalOnly(true));
      directory.heard(heartbeatBody(), now);
    }
  }

  private void onHeartbeat(JsonObject hb) {
    if (hb == null) {
      return;
    }
    if (hb.getBoolean("leaving", false)) {
      String id = hb.getString("node");
      if (id != null && !id.equals(nodeId) && directory.get(id) != null) {
        directory.forget(id);
        nodeGone(id, false);
      }
      return;
    }
    boolean isNew = directory.get(hb.getString("node", "")) == null;
    if (directory.heard(hb, System.nanoTime())) {
      LOG.info("Ring changed: {}", directory.ring());
    }
    String heardId = hb.getString("node");
    if (isNew && lostNodes.remove(heardId) && reportsFor(heardId)) {
      // A node this one had reported lost (frozen, partitioned away) answers again: it rejoined.
      report("node.joined", heardId, "returned");
    }
    if (isNew && nodeId.equals(heardId)) {
      // Each node announces its own arrival, once, when it first hears itself: one event per join.
      publishEvent("node.joined", new JsonObject().put("addresses", new JsonObject().put("http", http)
          .put("grpc", grpc).put("cluster", clusterAddress).put("bus", busAddress))
          .put("capacity", hb.getInteger("capacity")));
    }
  }

  /** A node left: it said so ({@code lost} false; it reported its own departure), or it stopped answering. */
  private void nodeGone(String id, boolean lost) {
    if (lost) {
      LOG.warn("Node {} stopped answering and left the cluster; ring now {}", id, directory.ring());
      lostNodes.add(id);
      if (reportsFor(id)) {
        // One event per loss: the first of the remaining ring members (by id) reports it.
        report("node.left", id, "lost");
      }
    } else {
      LOG.info("Node {} left the cluster; ring now {}", id, directory.ring());
    }
    Set<Forward> orphans = inflight.remove(id);
    if (orphans != null) {
      for (Forward f : orphans) {
        failForward(f, new SnakepitException(ErrorCode.NODE_LOST, "Node " + id
            + " left the cluster while running the call.", null, new JsonObject().put("node", id)));
      }
    }
  }

  /**
   * Whether this node is the one that reports what happened to {@code subject}: the first member of the
   * ring by id, the subject itself left out (it cannot report its own loss or return).
   */
  private boolean reportsFor(String subject) {
    return directory.ring().nodes().stream().filter(n -> !n.equals(subject)).sorted().findFirst()
        .map(nodeId::equals).orElse(true);
  }

  /** Publishes an event about another node, reported by this one. */
  private void report(String type, String subject, String reason) {
    vertx.eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", type).put("node", subject)
        .put("reason", reason).put("reported_by", nodeId).put("at", System.currentTimeMillis()));
  }

  private void publishEvent(String type, JsonObject ev) {
    vertx.eventBus().publish(Addresses.EVENTS, ev.put("type", type).put("node", nodeId)
        .put("at", System.currentTimeMillis()));
  }

  private JsonObject view() {
    JsonObject v = new JsonObject().put("node", nodeId).put("draining", draining)
        .put("nodes", directory.toJson(System.nanoTime()));
    JsonArray ring = new JsonArray();
    directory.ring().nodes().forEach(ring::add);
    return v.put("ring", ring);
  }

  // ---- routing ---------------------------------------------------------------------------------

  /**
   * Sends a call to the node that should run it. {@code local}: the sender is in this node (it may
   * send an {@link ExecuteRequest} and gets its reply by reference); otherwise it is another node or an
   * application, which sends and gets JSON.
   */
  private void route(Message<Object> msg, boolean stream, int hops, long deadline, boolean local) {
    // A call from another node has its bytes as base64 in its JSON: bytes again from here on, whether it runs
    // here or goes on (forward names them anew). A no-op for a body whose bytes were never encoded.
    BytePaths.restore(msg);
    String sid;
    if (msg.body() instanceof ExecuteRequest request && !stream) {
      sid = request.sessionId();
    } else if (msg.body() instanceof JsonObject body) {
      sid = body.getValue("session_id") instanceof String s ? s : null;
    } else {
      new SnakepitException(ErrorCode.BAD_REQUEST, "the body must be a JSON object").failMessage(msg);
      return;
    }
    try {
      String target = sid != null ? ownerOf(sid) : pickWithoutSession();
      if (target == null || target.equals(nodeId) || hops >= maxHops) {
        deliverLocally(msg, stream, hops, deadline, local);
      } else {
        forward(msg, stream, target, hops + 1, deadline, local);
      }
    } catch (RuntimeException e) {
      // A bug must answer the caller, who would otherwise wait for its timeout.
      String cid = msg.headers().get(Headers.CORRELATION_ID);
      CorrelatedLog.with(cid, () -> LOG.error("Routing a call failed", e));
      new SnakepitException(ErrorCode.INTERNAL, "Routing the call failed: " + e, cid, null).failMessage(msg);
    }
  }

  /** A session's owner: the node of its primary copy while that node is in the ring, else the ring's choice. */
  private String ownerOf(String sessionId) {
    return SessionPlacement.owner(SessionPlacement.of(vertx), directory.ring(), sessionId);
  }

  /** The least-loaded node for a call without a session, preferring this one while it has room. */
  private String pickWithoutSession() {
    if (!draining && localFree > 0) {
      return nodeId;
    }
    NodeDirectory.NodeInfo best = directory.leastLoaded();
    if (best == null || best.free() - best.queued() <= localFree - localQueued) {
      return nodeId;
    }
    return best.id();
  }

  private void deliverLocally(Message<Object> msg, boolean stream, int hops, long deadline, boolean local) {
    String cid = msg.headers().get(Headers.CORRELATION_ID);
    Object body = msg.body();
    if (!stream && body instanceof JsonObject json) {
      // Read once here; the supervisor then takes the record as it is, with no copy.
      try {
        body = ExecuteRequest.fromJson(json, cid);
      } catch (SnakepitException e) {
        e.failMessage(msg);
        return;
      }
    }
    vertx.eventBus().<JsonObject>request(stream ? Addresses.SUPERVISOR_STREAM_OPEN : Addresses.SUPERVISOR_EXECUTE,
        body, options(msg.headers(), 0)).map(Message::body)
        .onComplete(ar -> {
          if (ar.failed() && refusedUnowned(ar.cause()) && System.nanoTime() < deadline) {
            // This node was paused and is not yet confirmed as the session's owner, or has just handed the
            // session over to its new owner; nothing ran. Once its cluster confirms it, or its partition table
            // catches up with the move, the call goes where it now belongs.
            vertx.setTimer(Math.max(50, heartbeatMs / 2), t -> route(msg, stream, hops, deadline, local));
          } else {
            reply(msg, ar, cid, local);
          }
        });
  }

  /** Whether a call was refused with {@code not_owner} before its tool ran, so that routing it again is safe. */
  private static boolean refusedUnowned(Throwable t) {
    SnakepitException e = SnakepitException.from(t);
    return e.errorCode() == ErrorCode.NOT_OWNER && !e.details().getBoolean(SnakepitException.DETAIL_TOOL_RAN, false);
  }

  private static void reply(Message<Object> msg, io.vertx.core.AsyncResult<?> outcome, String cid, boolean local) {
    if (local) {
      SnakepitException.replyLocally(msg, outcome, cid);
    } else {
      SnakepitException.reply(msg, outcome, cid);
    }
  }

  private void forward(Message<Object> msg, boolean stream, String target, int hops, long deadline,
                       boolean local) {
    // Between nodes a call travels as the JSON of the contract, whatever this node's sender handed over, with
    // the paths of its bytes in a header: the JSON carries them as base64, which the other side turns back.
    JsonObject body = msg.body() instanceof ExecuteRequest request ? request.toJson() : (JsonObject) msg.body();
    Forward f = new Forward(msg, stream ? body.getString("sink") : null);
    inflight.computeIfAbsent(target, k -> new HashSet<>()).add(f);
    vertx.eventBus().<JsonObject>request(Addresses.node(target, stream ? "stream.open" : "execute"), body,
        BytePaths.mark(options(msg.headers(), hops), body)).onComplete(ar -> {
          Set<Forward> set = inflight.get(target);
          if (set != null) {
            set.remove(f);
          }
          if (f.done) {
            return;
          }
          if (ar.succeeded()) {
            f.done = true;
            reply(msg, ar.map(BytePaths::restore), null, local);
          } else if (neverRan(ar.cause()) && System.nanoTime() < deadline) {
            // The owner is not (or no longer) there, or it is stopping and refused the call before it ran:
            // wait for the ring to catch up, then route again.
            f.done = true;
            vertx.setTimer(Math.max(50, heartbeatMs / 2), t -> route(msg, stream, hops - 1, deadline, local));
          } else if (ar.cause() instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS) {
            failForward(f, new SnakepitException(ErrorCode.OWNER_UNAVAILABLE, "No node took the call within "
                + "forward-retry-ms=" + forwardRetryMs + " (last tried " + target + ")."));
          } else {
            failForward(f, SnakepitException.from(ar.cause()));
          }
        });
  }

  /** Whether a forwarded call failed before it reached a worker, so that sending it elsewhere is safe. */
  private static boolean neverRan(Throwable t) {
    if (t instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS) {
      return true;
    }
    // starting: the target's router found no supervisor (it is starting or stopping), so nothing ran there either.
    ErrorCode code = SnakepitException.from(t).errorCode();
    return code == ErrorCode.SHUTTING_DOWN || code == ErrorCode.STARTING || refusedUnowned(t);
  }

  private void failForward(Forward f, SnakepitException e) {
    if (f.done) {
      return;
    }
    f.done = true;
    SnakepitException stamped = e.withCorrelationId(f.msg.headers().get(Headers.CORRELATION_ID));
    if (e.errorCode() == ErrorCode.NODE_LOST || e.errorCode() == ErrorCode.OWNER_UNAVAILABLE) {
      // This node's own verdict on a forwarded call; other failures are logged where the call ran.
      CorrelatedLog.with(stamped.correlationId(), () -> LOG.warn("Forwarded call failed: {}: {}",
          e.errorCode().code(), e.getMessage()));
    }
    if (f.sink != null) {
      // A stream whose node died: its consumer gets the error where it waits for items.
      vertx.eventBus().send(f.sink, new JsonObject().put("type", "error").put("error", stamped.toJson()));
    }
    stamped.failMessage(f.msg);
  }

  private static DeliveryOptions options(MultiMap headers, int hops) {
    DeliveryOptions o = new DeliveryOptions().setSendTimeout(Addresses.CALL_SEND_TIMEOUT_MS);
    headers.forEach(e -> {
      // Both are this hop's own: the hop count it set, and the bytes of the body it sends.
      if (!Headers.HOPS.equalsIgnoreCase(e.getKey()) && !Headers.BYTES_AT.equalsIgnoreCase(e.getKey())) {
        o.addHeader(e.getKey(), e.getValue());
      }
    });
    if (hops > 0) {
      // addHeader, not getHeaders().set: a call sent without headers has none to set.
      o.addHeader(Headers.HOPS, Integer.toString(hops));
    }
    return o;
  }

  // ---- drain -----------------------------------------------------------------------------------

  /** Leaves the ring (the others stop sending new calls here), then hands off the sessions' Python state. */
  private void onDrain(Message<JsonObject> m) {
    if (!draining) {
      draining = true;
      LOG.info("Node {} draining: leaving the ring", nodeId);
      publishEvent("node.draining", new JsonObject());
    }
    vertx.eventBus().publish(Addresses.RING_HEARTBEAT, heartbeatBody());
    vertx.eventBus().<JsonObject>request(Addresses.SUPERVISOR_HANDOFF, new JsonObject(),
            new DeliveryOptions().setSendTimeout(120_000))
        .map(Message::body)
        .recover(t -> Future.succeededFuture(new JsonObject().put("handoff", "unavailable: " + t.getMessage())))
        .onComplete(ar -> m.reply(new JsonObject().put("draining", true).mergeIn(ar.result())));
  }
}
