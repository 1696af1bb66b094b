package io.snakepit.app.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import picocli.CommandLine.Command;

/** {@code snakepit workers}: the node's worker processes ({@code GET /v1/workers}). */
@Command(name = "workers", mixinStandardHelpOptions = true,
    description = "Show the worker processes of a running node.")
public final class WorkersCommand extends NodeCommand {

  @Override
  int run(NodeClient node) throws NodeError, Unreachable {
    JsonObject answer = node.getJson("/v1/workers");
    if (json) {
      printJson(answer);
      return ExitCodes.OK;
    }
    long now = System.currentTimeMillis();
    Table t = new Table("ID", "POOL", "STATE", "PID", "REQUESTS", "INFLIGHT", "RSS", "UPTIME");
    for (Object o : answer.getJsonArray("workers", new JsonArray())) {
      JsonObject w = (JsonObject) o;
      Long rss = w.getLong("rss_bytes");
      Long started = w.getLong("started_at");
      t.row(w.getString("id"), w.getString("pool"), w.getString("state"), w.getValue("pid"),
          w.getValue("requests"), w.getValue("inflight"),
          rss == null || rss <= 0 ? null : String.format(java.util.Locale.ROOT, "%.1f MiB", rss / 1048576.0),
          started == null ? null : duration(now - started));
    }
    t.print(out(), true);
    if (t.isEmpty()) {
      err().println("no workers");
      err().flush();
    }
    return ExitCodes.OK;
  }
}
