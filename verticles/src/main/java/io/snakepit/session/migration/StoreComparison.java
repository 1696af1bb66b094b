package io.snakepit.session.migration;

import io.snakepit.session.Session;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A verify: pages through both stores in id order side by side, in constant memory, and compares every session
 * by {@link SessionDigest}. A session that differs is read again from both stores before it counts, so that a
 * write caught between the two stores (in the first, on its way to the second) is not reported. The answer:
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

  StoreComparison(SessionStore source, SessionStore target, int pageSize, int maxListed) {
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

  // Recurses once per pair that needs a store round trip; pairs within loaded pages are handled in the loop.
  private Future<Void> step() {
    while (true) {
      Future<Session> a = left.peek();
      Future<Session> b = right.peek();
      if (!a.isComplete() || !b.isComplete()) {
        return Future.all(a, b).compose(v -> step());
      }
      if (a.failed() || b.failed()) {
        return Future.failedFuture(a.failed() ? a.cause() : b.cause());
      }
      Session s = a.result();
      Session t = b.result();
      if (s == null && t == null) {
        return Future.succeededFuture();
      }
      int order = s == null ? 1 : t == null ? -1 : s.id().compareTo(t.id());
      if (order < 0) {
        left.advance();
        Future<Void> f = recheck(s.id());
        if (!f.isComplete()) {
          return f.compose(v -> step());
        }
      } else if (order > 0) {
        right.advance();
        Future<Void> f = recheck(t.id());
        if (!f.isComplete()) {
          return f.compose(v -> step());
        }
      } else {
        left.advance();
        right.advance();
        compared++;
        if (!parts(s, t).isEmpty()) {
          Future<Void> f = recheck(s.id());
          if (!f.isComplete()) {
            return f.compose(v -> step());
          }
        }
      }
    }
  }

  /** Reads the session from both stores again and records a difference if there still is one. */
  private Future<Void> recheck(String id) {
    Future<Session> s = source.get(id).otherwise((Session) null);
    Future<Session> t = target.get(id).otherwise((Session) null);
    return Future.join(s, t).transform(ar -> {
      Session a = s.result();
      Session b = t.result();
      if (a == null && b == null) {
        return Future.succeededFuture();
      }
      if (a == null || b == null) {
        record(new JsonObject().put("id", id).put("kind", a == null ? "missing_in_source" : "missing_in_target"));
      } else {
        List<String> parts = parts(a, b);
        if (!parts.isEmpty()) {
          record(new JsonObject().put("id", id).put("kind", "different").put("parts", new JsonArray(parts)));
        }
      }
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
