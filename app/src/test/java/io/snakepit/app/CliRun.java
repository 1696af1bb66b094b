package io.snakepit.app;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/**
 * One run of the {@code snakepit} command line in this JVM, as tests drive it: its exit code and what it wrote.
 *
 * @param code its exit code
 * @param out  what it wrote on standard output
 * @param err  what it wrote on standard error
 */
public record CliRun(int code, String out, String err) {

  /** Runs {@code snakepit ARGS...}. */
  public static CliRun cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = new CommandLine(new Main()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
        .execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  /** Standard output as one JSON object. */
  public JsonObject json() {
    return new JsonObject(out.strip());
  }
}
