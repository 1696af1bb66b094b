package io.snakepit.app.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.util.Set;
import picocli.CommandLine.Command;

/**
 * {@code snakepit health}: liveness ({@code /health}), readiness ({@code /ready})
 * and the session store ({@code /health/sessions}) of a running node. Exits 0 when
 * the node is live, ready and its store UP; 5 when it is live but not ready, or its
 * store is DEGRADED or DOWN; 3 when it cannot be reached.
 */
@Command(name = "health", mixinStandardHelpOptions = true,
    description = "Check a running node: live, ready, and its session store's health. Exit 5 when not healthy.")
public final class HealthCommand extends NodeCommand {

  @Override
  int run(NodeClient node) throws NodeError, Unreachable {
    JsonObject live = node.getJson("/health");
    JsonObject ready = answer(node, "/ready");
    JsonObject sessions = answer(node, "/health/sessions");
    boolean isReady = "READY".equals(ready.getString("status"));
    boolean storeUp = "UP".equals(sessions.getString("status"));
    if (json) {
      printJson(new JsonObject().put("healthy", isReady && storeUp).put("live", live).put("ready", ready)
          .put("sessions", sessions));
    } else {
      Table t = new Table("CHECK", "STATUS", "DETAIL");
      t.row("live", live.getString("status"), "node " + live.getString("node"));
      JsonObject checks = ready.getJsonObject("checks", new JsonObject());
      JsonObject workers = checks.getJsonObject("workers", new JsonObject());
      t.row("ready", ready.getString("status"), isReady
          ? workers.getValue("ready_workers", "?") + " ready workers"
          : String.join("; ", ready.getJsonArray("reasons", new JsonArray()).stream().map(String::valueOf).toList()));
      String detail = sessions.getString("adapter") + ", " + sessions.getValue("count") + " sessions, "
          + sessions.getValue("operations") + " ops in the last " + sessions.getValue("window_s") + " s, p99 "
          + format(sessions.getValue("latency_p99_ms")) + " ms, error rate " + format(sessions.getValue("error_rate"));
      JsonArray reasons = sessions.getJsonArray("reasons");
      if (reasons != null && !reasons.isEmpty()) {
        detail = String.join("; ", reasons.stream().map(String::valueOf).toList()) + " (" + detail + ")";
      }
      t.row("sessions", sessions.getString("status"), detail);
      t.print(out(), true);
    }
    return isReady && storeUp ? ExitCodes.OK : ExitCodes.UNHEALTHY;
  }

  /** The JSON of a health endpoint, which answers 503 with a body when not healthy. */
  private static JsonObject answer(NodeClient node, String path) throws NodeError, Unreachable {
    HttpResponse<String> r = node.send(node.request(path, true).GET().build(), Set.of(200, 503));
    JsonObject body = NodeClient.json(r);
    if (r.statusCode() == 503 && body.getValue("status") == null) {
      throw NodeClient.error(503, r.body(), null);
    }
    return body;
  }

  private static String format(Object v) {
    if (v instanceof Number n) {
      return String.format(java.util.Locale.ROOT, "%.3g", n.doubleValue());
    }
    return v == null ? "-" : String.valueOf(v);
  }
}
