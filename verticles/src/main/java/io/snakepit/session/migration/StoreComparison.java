package io.snakepit.session.migration;

import io.snakepit.session.Session;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A verify: pages through both stores in id order side by side, in constant memory, and compares every session
 * by {@link SessionDigest}. A session that differs is read again from both stores before it counts, up to
 * {@value #RECHECKS} times with a growing pause (10 ms, then doubling), so that a write caught between the two
 * stores (in the first, on its way to the second) is not reported, even when the session is written again and
 * again: a real difference stays through every read. Once {@code maxListed} differences are recorded, the rest
 * are read again once, without a pause. The answer:
 * {@code passed}, {@code source_count}, {@code target_count}, {@code compared}, {@code differences_count} and
 * {@code differences} (the first {@code maxListed}: {@code {"id", "kind": "missing_in_target" |
 * "missing_in_source" | "different", "parts": [...]}}), {@code at} and {@code took_ms}.
 */
final class StoreComparison {

  private final SessionStore source;
  private final SessionStore target;
  private final PagedSessions left;
  private final PagedSessions right;
  private final int maxListed;
  private final JsonArray listed = new JsonArray();
  private long differences;
  private long compared;
  private final long startedAt = System.currentTimeMillis();

  /** How many times a session that differs is read again before the difference counts. */
  static final int RECHECKS = 5;

  private final Vertx vertx;

  StoreComparison(Vertx vertx, SessionStore source, SessionStore target, int pageSize, int maxListed) {
    this.vertx = vertx;
    this.source = source;
    this.target = target;
    this.left = new PagedSessions(source, pageSize);
    this.right = new PagedSessions(target, pageSize);
    this.maxListed = maxListed;
  }

  /** Runs the comparison to the end of both stores. */
  Future<JsonObject> run() {
    return step().map(v -> new JsonObject().put("passed", differences == 0).put("source_count", left.seen())
        .put("target_count", right.seen()).put("compared", compared).put("differences_count", differences)
        .put("differences", listed).put("at", System.currentTimeMillis())
        .put("took_ms", System.currentTimeMillis() - startedAt));
  }

  private Future<Void> step() {
    return PagedSessions.sideBySide(left, right, (s, t) -> {
      if (s != null && t != null) {
        compared++;
        if (parts(s, t).isEmpty()) {
          return Future.succeededFuture();
        }
      }
      return recheck(s != null ? s.id() : t.id());
    });
  }

  /** Reads the session from both stores again (and again) and records a difference if there still is one. */
  private Future<Void> recheck(String id) {
    return recheck(id, 1);
  }

  private Future<Void> recheck(String id, int attempt) {
    Future<Session> s = source.get(id).otherwise((Session) null);
    Future<Session> t = target.get(id).otherwise((Session) null);
    return Future.join(s, t).transform(ar -> {
      Session a = s.result();
      Session b = t.result();
      if (a == null && b == null) {
        return Future.succeededFuture();
      }
      JsonObject difference = a == null || b == null
          ? new JsonObject().put("id", id).put("kind", a == null ? "missing_in_source" : "missing_in_target")
          : parts(a, b).isEmpty() ? null
          : new JsonObject().put("id", id).put("kind", "different").put("parts", new JsonArray(parts(a, b)));
      if (difference == null) {
        return Future.succeededFuture();
      }
      // Once the listed differences are full the verify has failed anyway: the rest are counted on one read again,
      // so that a store far apart from the other is not compared at 150 ms a session.
      if (attempt < RECHECKS && differences < maxListed) {
        return vertx.timer(10L << (attempt - 1)).compose(x -> recheck(id, attempt + 1));
      }
      record(difference);
      return Future.succeededFuture();
    });
  }

  private void record(JsonObject difference) {
    differences++;
    if (listed.size() < maxListed) {
      listed.add(difference);
    }
  }

  private static List<String> parts(Session a, Session b) {
    Map<String, String> x = SessionDigest.of(a);
    Map<String, String> y = SessionDigest.of(b);
    List<String> out = new ArrayList<>();
    x.forEach((part, digest) -> {
      if (!digest.equals(y.get(part))) {
        out.add(part);
      }
    });
    return out;
  }
}
