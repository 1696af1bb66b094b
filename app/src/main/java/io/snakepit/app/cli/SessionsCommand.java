package io.snakepit.app.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code snakepit sessions ...}: the sessions of a running node. */
@Command(name = "sessions", mixinStandardHelpOptions = true,
    description = "List, show, delete, export and import the sessions of a running node.",
    subcommands = {SessionsCommand.ListCmd.class, SessionsCommand.Show.class, SessionsCommand.Delete.class,
        SessionExportCommand.class, SessionImportCommand.class})
public final class SessionsCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getErr().println("snakepit sessions: name a subcommand");
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }

  /** {@code sessions list}: one page, or every page with {@code --all}. */
  @Command(name = "list", mixinStandardHelpOptions = true, description = "List sessions, in id order.")
  static final class ListCmd extends NodeCommand {

    @Option(names = "--limit", defaultValue = "100", paramLabel = "N",
        description = "Sessions per page, 1-1000 (default ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--cursor", paramLabel = "CURSOR", description = "Start after this cursor (from a previous page).")
    String cursor;

    @Option(names = "--all", description = "Page through every session (with --json: one session per line).")
    boolean all;

    @Override
    int run(NodeClient node) throws NodeError, Unreachable, Failure {
      if (limit < 1 || limit > 1000) {
        throw new Failure(ExitCodes.USAGE, "--limit must be from 1 to 1000, got " + limit);
      }
      String next = cursor;
      boolean header = true;
      long shown = 0;
      do {
        JsonObject page = node.getJson("/v1/sessions?limit=" + limit
            + (next != null ? "&cursor=" + NodeClient.encode(next) : ""));
        JsonArray sessions = page.getJsonArray("sessions", new JsonArray());
        next = page.getString("next_cursor");
        shown += sessions.size();
        if (json && !all) {
          printJson(page);
          return ExitCodes.OK;
        }
        if (json) {
          sessions.forEach(this::printJson);
          continue;
        }
        Table t = new Table("ID", "VERSION", "VARIABLES", "PROGRAMS", "LAST WORKER", "ACCESSED", "EXPIRES IN");
        long now = System.currentTimeMillis();
        for (Object o : sessions) {
          JsonObject s = (JsonObject) o;
          t.row(s.getString("id"), s.getLong("version"), s.getJsonObject("variables", new JsonObject()).size(),
              s.getJsonArray("program_ids", new JsonArray()).size(), s.getString("last_worker"),
              ago(now, s.getLong("accessed_at")), in(now, s.getLong("expires_at")));
        }
        if (!t.isEmpty() || header) {
          t.print(out(), header);
        }
        header = false;
      } while (all && next != null);
      if (!json) {
        if (shown == 0) {
          err().println("no sessions");
        } else if (next != null) {
          err().println("more: snakepit sessions list --cursor " + next);
        }
        err().flush();
      }
      return ExitCodes.OK;
    }
  }

  /** {@code sessions show ID}. */
  @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one session (this touches it).")
  static final class Show extends NodeCommand {

    @Parameters(paramLabel = "ID", description = "The session's id.")
    String id;

    @Override
    int run(NodeClient node) throws NodeError, Unreachable {
      JsonObject s = node.getJson("/v1/sessions/" + NodeClient.encode(id));
      if (json) {
        printJson(s);
        return ExitCodes.OK;
      }
      long now = System.currentTimeMillis();
      Table t = new Table("FIELD", "VALUE");
      t.row("id", s.getString("id"));
      t.row("version", s.getLong("version"));
      t.row("created", ago(now, s.getLong("created_at")));
      t.row("accessed", ago(now, s.getLong("accessed_at")));
      t.row("expires in", in(now, s.getLong("expires_at")));
      t.row("ttl", s.getValue("ttl_s") == null ? null : s.getValue("ttl_s") + " s");
      t.row("last node", s.getString("last_node"));
      t.row("last worker", s.getString("last_worker"));
      t.row("metadata", s.getJsonObject("metadata", new JsonObject()).encode());
      t.row("programs", String.join(", ", s.getJsonArray("program_ids", new JsonArray()).stream()
          .map(String::valueOf).toList()));
      t.print(out(), false);
      JsonObject vars = s.getJsonObject("variables", new JsonObject());
      if (!vars.isEmpty()) {
        out().println();
        Table v = new Table("VARIABLE", "VALUE");
        vars.forEach(e -> v.row(e.getKey(), NodeClient.abbreviate(io.vertx.core.json.Json.encode(e.getValue()))));
        v.print(out(), true);
      }
      return ExitCodes.OK;
    }
  }

  /** {@code sessions delete ID}. */
  @Command(name = "delete", mixinStandardHelpOptions = true,
      description = "Delete a session (succeeds also when it does not exist).")
  static final class Delete extends NodeCommand {

    @Parameters(paramLabel = "ID", description = "The session's id.")
    String id;

    @Override
    int run(NodeClient node) throws NodeError, Unreachable {
      node.delete("/v1/sessions/" + NodeClient.encode(id));
      if (json) {
        printJson(new JsonObject().put("deleted", id));
      } else {
        out().println("deleted " + id);
      }
      return ExitCodes.OK;
    }
  }

  static String ago(long now, Long at) {
    return at == null ? null : NodeCommand.duration(now - at) + " ago";
  }

  static String in(long now, Long at) {
    return at == null ? null : NodeCommand.duration(at - now);
  }
}
