package io.snakepit.app.cli;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code sessions import FILE}: streams an export file (or stdin, {@code -}) as
 * the body of {@code POST /v1/sessions/import}, never holding it in memory. The
 * node merges the sessions, so an import can be run again after a failure.
 */
@Command(name = "import", mixinStandardHelpOptions = true,
    description = "Import sessions from an export file (NDJSON; - for stdin). Merges: safe to run again.")
final class SessionImportCommand extends NodeCommand {

  @Parameters(paramLabel = "FILE", description = "The export file, or - for stdin.")
  String file;

  @Override
  int run(NodeClient node) throws NodeError, Unreachable, Failure {
    boolean stdin = "-".equals(file);
    Path path = stdin ? null : Path.of(file);
    if (path != null && (!Files.isRegularFile(path) || !Files.isReadable(path))) {
      throw new Failure(ExitCodes.USAGE, "cannot read " + file + ": not a readable file");
    }
    long started = System.nanoTime();
    AtomicLong lines = new AtomicLong();
    PrintWriter progress = err();
    HttpRequest req = node.request("/v1/sessions/import", false)
        .header("Content-Type", "application/x-ndjson")
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> {
          try {
            InputStream in = stdin ? new NonClosing(System.in) : Files.newInputStream(path);
            return new LineCounting(in, lines, progress);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }))
        .build();
    HttpResponse<String> r = node.send(req, Set.of(200));
    JsonObject result = NodeClient.json(r);
    long imported = result.getLong("imported", 0L);
    long failed = result.getLong("failed", 0L);
    long skipped = result.getLong("skipped", 0L);
    double seconds = (System.nanoTime() - started) / 1e9;
    if (json) {
      printJson(result);
    } else {
      out().println(String.format(java.util.Locale.ROOT, "imported %d sessions, %s%d failed (%d lines from %s in %.1f s)",
          imported, skipped == 0 ? "" : skipped + " skipped (" + skippedWhy(result) + "), ", failed, lines.get(),
          stdin ? "stdin" : file, seconds));
      JsonArray skippedSessions = result.getJsonArray("skipped_sessions", new JsonArray());
      if (!skippedSessions.isEmpty()) {
        Table t = new Table("LINE", "SESSION", "SKIPPED");
        skippedSessions.forEach(e -> t.row(((JsonObject) e).getValue("line"), ((JsonObject) e).getString("id"),
            ((JsonObject) e).getString("reason")));
        t.print(out(), true);
        if (skipped > skippedSessions.size()) {
          out().println("(and " + (skipped - skippedSessions.size()) + " more skipped)");
        }
        if (result.getJsonObject("skipped_reasons", new JsonObject()).containsKey("deleted")) {
          out().println("Deleted sessions stay deleted while their tombstone is kept (sessions.tombstone-ttl-s); "
              + "to restore them now, create each again (POST /v1/sessions with its id) and import again. "
              + "See docs/operations.md.");
        }
      }
      JsonArray errors = result.getJsonArray("errors", new JsonArray());
      if (!errors.isEmpty()) {
        Table t = new Table("LINE", "ERROR");
        errors.forEach(e -> t.row(((JsonObject) e).getValue("line"), ((JsonObject) e).getString("message")));
        t.print(out(), true);
        if (failed > errors.size()) {
          out().println("(and " + (failed - errors.size()) + " more)");
        }
      }
      out().flush();
    }
    return failed > 0 ? ExitCodes.PARTIAL : ExitCodes.OK;
  }

  /** What the skipped sessions were skipped for, e.g. "deleted later: a tombstone is newer". */
  static String skippedWhy(JsonObject result) {
    JsonObject reasons = result.getJsonObject("skipped_reasons", new JsonObject());
    java.util.List<String> parts = new java.util.ArrayList<>();
    for (String reason : new java.util.TreeSet<>(reasons.fieldNames())) {
      String why = switch (reason) {
        case "deleted" -> "deleted later: a tombstone is newer";
        case "expired" -> "expired: their TTL ran out before the import";
        default -> reason;
      };
      parts.add(reasons.fieldNames().size() == 1 ? why : reasons.getValue(reason) + " " + why);
    }
    return parts.isEmpty() ? "see skipped_sessions" : String.join("; ", parts);
  }

  /** Counts the lines read through it and reports progress every {@link SessionExportCommand#PROGRESS_EVERY}. */
  static final class LineCounting extends FilterInputStream {
    private final AtomicLong lines;
    private final PrintWriter progress;

    LineCounting(InputStream in, AtomicLong lines, PrintWriter progress) {
      super(in);
      this.lines = lines;
      this.progress = progress;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b == '\n') {
        counted(1);
      }
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = super.read(buf, off, len);
      int newlines = 0;
      for (int i = 0; i < n; i++) {
        if (buf[off + i] == '\n') {
          newlines++;
        }
      }
      if (newlines > 0) {
        counted(newlines);
      }
      return n;
    }

    private void counted(int n) {
      long before = lines.getAndAdd(n);
      long after = before + n;
      if (after / SessionExportCommand.PROGRESS_EVERY != before / SessionExportCommand.PROGRESS_EVERY) {
        progress.println("snakepit: sent " + (after / SessionExportCommand.PROGRESS_EVERY
            * SessionExportCommand.PROGRESS_EVERY) + " lines so far");
        progress.flush();
      }
    }
  }

  /** stdin, which the HTTP client must not close. */
  static final class NonClosing extends FilterInputStream {
    NonClosing(InputStream in) {
      super(in);
    }

    @Override
    public void close() {
    }
  }
}
