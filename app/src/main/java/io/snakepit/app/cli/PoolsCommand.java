package io.snakepit.app.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code snakepit pools ...}: the pools of a running node ({@code GET /v1/pools}), and reloading their code. */
@Command(name = "pools", mixinStandardHelpOptions = true,
    description = "List the pools of a running node, or reload a pool's code.",
    subcommands = {PoolsCommand.ListCmd.class, PoolsCommand.Reload.class})
public final class PoolsCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getErr().println("snakepit pools: name a subcommand");
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }

  /** {@code pools list}. */
  @Command(name = "list", mixinStandardHelpOptions = true, description = "List the node's pools.")
  static final class ListCmd extends NodeCommand {

    @Override
    int run(NodeClient node) throws NodeError, Unreachable {
      JsonObject answer = node.getJson("/v1/pools");
      if (json) {
        printJson(answer);
        return ExitCodes.OK;
      }
      Table t = new Table("NAME", "SIZE", "READY", "INFLIGHT", "QUEUED", "DEGRADED", "RELOAD");
      for (Object o : answer.getJsonArray("pools", new JsonArray())) {
        JsonObject p = (JsonObject) o;
        t.row(p.getString("name"), p.getValue("size"), p.getValue("ready"), p.getValue("inflight"),
            p.getValue("queue_depth"), p.getValue("degraded"), reload(p.getJsonObject("reload")));
      }
      t.print(out(), true);
      if (t.isEmpty()) {
        err().println("no pools");
        err().flush();
      }
      return ExitCodes.OK;
    }
  }

  /** {@code pools reload NAME}. */
  @Command(name = "reload", mixinStandardHelpOptions = true,
      description = {"Reload a pool's code: its forkserver and workers are replaced, a quarter of the pool at a time, "
          + "by ones running the code now on disk, with no call failed; sessions' Python-side state is handed over.",
          "Waits until the reload has ended (--timeout does not apply). A new version that does not import stops "
              + "the reload and the old workers keep serving: exit code 1, with the ImportError. A second reload "
              + "of a pool while one runs is refused (reload_in_progress). See docs/operations.md, \"Reloading code\"."})
  static final class Reload extends NodeCommand {

    @Parameters(paramLabel = "NAME", description = "The pool's name.")
    String name;

    @Override
    int run(NodeClient node) throws NodeError, Unreachable {
      HttpRequest req = node.request("/v1/pools/" + NodeClient.encode(name) + "/reload", false)
          .POST(HttpRequest.BodyPublishers.noBody()).build();
      JsonObject answer = NodeClient.json(node.send(req, Set.of(200)));
      if (json) {
        printJson(answer);
      } else {
        out().println("reloaded pool " + answer.getString("pool") + ": " + reload(answer.getJsonObject("reload")));
      }
      return ExitCodes.OK;
    }
  }

  static String reload(JsonObject r) {
    if (r == null) {
      return null;
    }
    String s = r.getString("state") + " " + r.getValue("replaced") + "/" + r.getValue("total");
    if (r.getValue("duration_ms") != null) {
      s += " in " + r.getValue("duration_ms") + " ms";
    }
    return r.getString("error") == null ? s : s + ": " + NodeClient.abbreviate(r.getString("error"));
  }
}
