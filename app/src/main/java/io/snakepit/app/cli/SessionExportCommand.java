package io.snakepit.app.cli;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sessions export [--out FILE]}: streams {@code GET /v1/sessions/export}
 * line by line into a file (or stdout), in constant memory. The file is written
 * as {@code FILE.part} and renamed when the node's summary line has arrived, so a
 * FILE that exists is always a complete export.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
    description = "Export every session as NDJSON (the node's storage form), to a file or stdout.")
final class SessionExportCommand extends NodeCommand {

  /** A progress line every this many sessions. */
  static final int PROGRESS_EVERY = 1000;

  @Option(names = "--out", paramLabel = "FILE", description = "Write to FILE instead of stdout.")
  Path outFile;

  @Override
  int run(NodeClient node) throws NodeError, Unreachable, Failure {
    long started = System.nanoTime();
    HttpResponse<InputStream> r = node.stream(node.request("/v1/sessions/export", false).GET().build());
    Path part = outFile == null ? null : outFile.resolveSibling(outFile.getFileName() + ".part");
    long count = 0;
    Long reported = null;
    boolean done = false;
    try (InputStream in = r.body();
         BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16)) {
      Writer w;
      try {
        w = part == null ? out() : new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(part),
            StandardCharsets.UTF_8), 1 << 16);
      } catch (IOException e) {
        throw new Failure(ExitCodes.USAGE, "cannot write " + part + ": " + e.getMessage());
      }
      try {
        String line;
        while ((line = reader.readLine()) != null) {
          if (line.isBlank()) {
            continue;
          }
          if (line.startsWith("{\"exported\"") || line.startsWith("{\"error\"")) {
            JsonObject o = parse(line);
            if (o != null && o.getJsonObject("error") != null) {
              throw new NodeError(200, o.getJsonObject("error"));
            }
            if (o != null && o.getValue("exported") instanceof Number n && o.size() == 1) {
              reported = n.longValue();
              write(w, line);
              done = true;
              continue;
            }
          }
          write(w, line);
          count++;
          if (count % PROGRESS_EVERY == 0) {
            err().println("snakepit: exported " + count + " sessions so far");
            err().flush();
          }
        }
        w.flush();
      } catch (IOException e) {
        throw new Failure(ExitCodes.UNREACHABLE, "export interrupted after " + count + " sessions: "
            + e.getMessage());
      } finally {
        if (part != null) {
          w.close();
        }
      }
    } catch (IOException e) {
      throw new Unreachable("export interrupted after " + count + " sessions: " + e.getMessage(), e);
    } finally {
      if (part != null && !done) {
        try {
          Files.deleteIfExists(part);
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
    if (!done) {
      throw new Failure(ExitCodes.UNREACHABLE, "the export ended after " + count
          + " sessions without its summary line; the connection was cut" + (part != null ? "; nothing was written" : ""));
    }
    if (reported != count) {
      throw new Failure(ExitCodes.NODE_ERROR, "the node reported " + reported + " sessions but sent " + count);
    }
    if (part != null) {
      try {
        Files.move(part, outFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        throw new Failure(ExitCodes.USAGE, "cannot move " + part + " to " + outFile + ": " + e.getMessage());
      }
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    JsonObject summary = new JsonObject().put("exported", count).put("seconds", Math.round(seconds * 1000) / 1000.0);
    if (outFile != null) {
      summary.put("file", outFile.toString());
    }
    if (json && outFile != null) {
      printJson(summary);
    } else {
      // Progress and the summary go to stderr, with or without --out (docs/operations.md): stdout carries data
      // only, the sessions or, with --json, the summary as JSON, so a script can pipe it whatever it asked for.
      err().println(String.format(java.util.Locale.ROOT, "exported %d sessions%s in %.1f s",
          count, outFile == null ? "" : " to " + outFile, seconds));
      err().flush();
      out().flush();
    }
    return ExitCodes.OK;
  }

  private static void write(Writer w, String line) throws IOException {
    w.write(line);
    w.write('\n');
  }

  private static JsonObject parse(String line) {
    try {
      return new JsonObject(line);
    } catch (DecodeException | ClassCastException e) {
      return null;
    }
  }
}
