package io.snakepit.app.cli;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.net.http.HttpRequest;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code snakepit migrate}: drives a live migration of a node's sessions to another store adapter over the admin
 * API ({@code /v1/admin/migration}; docs/migration.md): {@code start}, {@code status}, {@code verify},
 * {@code cutover}, {@code commit}, {@code rollback}.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true,
    description = "Move a running node's sessions to another store adapter without downtime: start (dual writes and "
        + "a backfill), status, verify (and repair), cutover, commit, or rollback before the commit. See docs/migration.md.",
    subcommands = {MigrateCommand.Start.class, MigrateCommand.Status.class, MigrateCommand.Verify.class,
        MigrateCommand.Repair.class, MigrateCommand.Cutover.class, MigrateCommand.Commit.class, MigrateCommand.Rollback.class})
public final class MigrateCommand implements Callable<Integer> {

  static final String PATH = "/v1/admin/migration";

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getErr().println("snakepit migrate: name a subcommand");
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }

  /** A POST to one of the migration's routes; prints the status it answers. */
  abstract static class Step extends NodeCommand {
    abstract String path();

    JsonObject body() {
      return null;
    }

    int accepted() {
      return 200;
    }

    @Override
    int run(NodeClient node) throws NodeError, Unreachable, Failure {
      JsonObject b = body();
      HttpRequest req = node.request(path(), true).header("Content-Type", "application/json")
          .POST(b == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(b.encode()))
          .build();
      JsonObject status = NodeClient.json(node.send(req, Set.of(accepted())));
      printStatus(this, status);
      return ExitCodes.OK;
    }
  }

  static void printStatus(NodeCommand cmd, JsonObject s) {
    if (cmd.json) {
      cmd.printJson(s);
      return;
    }
    PrintWriter out = cmd.out();
    out.println("phase " + s.getString("phase") + (s.containsKey("target") ? ": " + s.getString("source") + " -> "
        + s.getString("target") : ""));
    JsonObject nodes = s.getJsonObject("nodes");
    if (nodes != null) {
      // A cluster's migration: every node's phase, so a node a step did not reach stands out.
      out.println("cluster, coordinated by " + s.getString("coordinator") + ":");
      new java.util.TreeSet<>(nodes.fieldNames()).forEach(id -> {
        JsonObject node = nodes.getJsonObject(id, new JsonObject());
        out.println("  " + id + " " + node.getString("phase")
            + (node.containsKey("error") ? " (" + node.getString("error") + ")" : ""));
      });
    }
    JsonObject b = s.getJsonObject("backfill");
    if (b != null) {
      out.println("backfill: " + b.getValue("copied", 0) + "/" + b.getValue("total", "?") + " copied, "
          + b.getValue("gone", 0) + " gone, " + b.getValue("failed", 0) + " failed"
          + (b.getBoolean("done", false) ? ", done" : ""));
    }
    JsonObject v = s.getJsonObject("verify");
    if (v != null) {
      out.println("verify: " + ("running".equals(v.getString("state")) ? "running" : (v.getBoolean("passed", false)
          ? "passed" : "FAILED") + ", " + v.getValue("source_count", "?") + " sessions in the source, "
          + v.getValue("target_count", "?") + " in the target, " + v.getValue("differences_count", "?")
          + " differences"));
      if (v.getJsonArray("differences") != null) {
        v.getJsonArray("differences").forEach(d -> out.println("  " + ((JsonObject) d).encode()));
      }
    }
    out.flush();
  }

  /** A progress bar, sessions/s and time left, as one line. */
  static String progressLine(JsonObject b) {
    long total = Math.max(1, b.getLong("total", 0L));
    long done = b.getLong("copied", 0L) + b.getLong("gone", 0L) + b.getLong("failed", 0L);
    int width = 30;
    int filled = (int) Math.min(width, done * width / total);
    String eta = b.containsKey("eta_s") ? formatSeconds(b.getLong("eta_s")) : "?";
    return "[" + "#".repeat(filled) + "-".repeat(width - filled) + "] " + done + "/" + b.getValue("total", "?")
        + " sessions, " + b.getValue("rate_per_s", 0) + " sessions/s, " + eta + " left";
  }

  private static String formatSeconds(long s) {
    return s >= 3600 ? s / 3600 + "h" + (s % 3600) / 60 + "m" : s >= 60 ? s / 60 + "m" + s % 60 + "s" : s + "s";
  }

  @Command(name = "start", mixinStandardHelpOptions = true,
      description = "Start migrating to ADAPTER: every write goes to both stores from now on, and a backfill copies "
          + "every session in the background.")
  static final class Start extends Step {
    @Option(names = "--to", required = true, paramLabel = "ADAPTER",
        description = "memory, hazelcast, or any adapter found through ServiceLoader.")
    String to;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
        description = "A setting of the target adapter (as under sessions.<adapter>); a value that is JSON (a "
            + "number, true, an object) is read as JSON. Repeatable.")
    List<String> settings = List.of();

    @Override
    String path() {
      return PATH;
    }

    @Override
    int accepted() {
      return 202;
    }

    @Override
    JsonObject body() {
      JsonObject s = new JsonObject();
      for (String kv : settings) {
        int eq = kv.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--set takes KEY=VALUE, got '" + kv + "'");
        }
        s.put(kv.substring(0, eq), value(kv.substring(eq + 1)));
      }
      return new JsonObject().put("to", to).put("settings", s);
    }

    private static Object value(String v) {
      try {
        return io.vertx.core.json.Json.decodeValue(v);
      } catch (RuntimeException e) {
        return v;
      }
    }

    @Override
    int run(NodeClient node) throws NodeError, Unreachable, Failure {
      try {
        return super.run(node);
      } catch (IllegalArgumentException e) {
        throw new Failure(ExitCodes.USAGE, e.getMessage());
      }
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "The migration's phase, backfill and last verify; --watch follows the backfill with a progress "
          + "bar (sessions/s, time left) on stderr until it is done.")
  static final class Status extends NodeCommand {
    @Option(names = "--watch", description = "Follow the backfill until it is done.")
    boolean watch;

    @Override
    int run(NodeClient node) throws NodeError, Unreachable, Failure {
      JsonObject s = node.getJson(PATH);
      while (true) {
        JsonObject b = s.getJsonObject("backfill");
        if (b != null && b.getBoolean("running", false)) {
          err().print("\rbackfill " + progressLine(b));
          err().flush();
        }
        if (!watch || b == null || !b.getBoolean("running", false)) {
          break;
        }
        try {
          Thread.sleep(1000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new Failure(ExitCodes.NODE_ERROR, "interrupted while following the migration");
        }
        s = node.getJson(PATH);
      }
      if (watch) {
        err().println();
        err().flush();
      }
      printStatus(this, s);
      return ExitCodes.OK;
    }
  }

  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = "Compare both stores session by session and list every difference; waits for the result. Exit "
          + "code 1 when they differ. With --repair, repairs the differences first (see repair), then verifies.")
  static final class Verify extends NodeCommand {
    @Option(names = "--repair", description = "Repair the store that does not answer reads from the one that "
        + "does first, wait for the repair, then verify.")
    boolean repair;

    @Override
    int run(NodeClient node) throws NodeError, Unreachable, Failure {
      if (repair) {
        Repair.startAndWait(this, node);
      }
      HttpRequest req = node.request(PATH + "/verify", true).POST(HttpRequest.BodyPublishers.noBody()).build();
      JsonObject s = NodeClient.json(node.send(req, Set.of(202)));
      while (s.getJsonObject("verify") == null || "running".equals(s.getJsonObject("verify").getString("state"))) {
        try {
          Thread.sleep(500);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new Failure(ExitCodes.NODE_ERROR, "interrupted while waiting for the verify");
        }
        s = node.getJson(PATH);
      }
      printStatus(this, s);
      return s.getJsonObject("verify").getBoolean("passed", false) ? ExitCodes.OK : ExitCodes.NODE_ERROR;
    }
  }

  @Command(name = "repair", mixinStandardHelpOptions = true,
      description = "Make the store that does not answer reads hold what the one that does holds: every difference "
          + "a verify lists (a write that failed, or was never acknowledged, in one store only). Waits for it; "
          + "verify afterwards (a commit needs a verify passed after the repair).")
  static final class Repair extends NodeCommand {
    @Override
    int run(NodeClient node) throws NodeError, Unreachable, Failure {
      printStatus(this, startAndWait(this, node));
      return ExitCodes.OK;
    }

    /** Starts a repair and waits for it, its progress on stderr; answers the status it ended with. */
    static JsonObject startAndWait(NodeCommand cmd, NodeClient node) throws NodeError, Unreachable, Failure {
      HttpRequest req = node.request(PATH + "/repair", true).POST(HttpRequest.BodyPublishers.noBody()).build();
      JsonObject s = NodeClient.json(node.send(req, Set.of(202)));
      while (!s.getJsonObject("backfill").getBoolean("done", false)) {
        JsonObject b = s.getJsonObject("backfill");
        if (!b.getBoolean("running", false)) {
          throw new Failure(ExitCodes.NODE_ERROR, "the repair stopped before its end (phase " + s.getString("phase")
              + "); see the node's log, and run it again");
        }
        cmd.err().print("\rrepair " + progressLine(b));
        cmd.err().flush();
        try {
          Thread.sleep(500);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new Failure(ExitCodes.NODE_ERROR, "interrupted while waiting for the repair");
        }
        s = node.getJson(PATH);
      }
      cmd.err().println();
      cmd.err().flush();
      return s;
    }
  }

  @Command(name = "cutover", mixinStandardHelpOptions = true,
      description = "Serve reads from the target; the source still gets every write, so a rollback loses nothing.")
  static final class Cutover extends Step {
    @Override
    String path() {
      return PATH + "/cutover";
    }
  }

  @Command(name = "commit", mixinStandardHelpOptions = true,
      description = "Retire the source (needs a cutover and a passed verify). Then set sessions.adapter to the "
          + "target in the node's configuration.")
  static final class Commit extends Step {
    @Override
    String path() {
      return PATH + "/commit";
    }
  }

  @Command(name = "rollback", mixinStandardHelpOptions = true,
      description = "Return to the source alone, from any phase before the commit; the target is left as it is.")
  static final class Rollback extends Step {
    @Override
    String path() {
      return PATH + "/rollback";
    }
  }
}
