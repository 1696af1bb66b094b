package io.snakepit.app.cli;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * An admin command that talks to a running node over its HTTP API. Turns what
 * can go wrong into the documented exit codes ({@link ExitCodes}); writes
 * results to stdout and everything else (errors, progress) to stderr.
 */
abstract class NodeCommand implements Callable<Integer> {

  @Option(names = "--url", defaultValue = "${env:SNAKEPIT_URL:-http://127.0.0.1:8080}", paramLabel = "URL",
      description = "The node's HTTP API (env SNAKEPIT_URL, default ${DEFAULT-VALUE}).")
  String url;

  @Option(names = "--token", defaultValue = "${env:SNAKEPIT_TOKEN}", paramLabel = "TOKEN",
      description = "The API key or JWT to authenticate with (env SNAKEPIT_TOKEN). Prefer --token-file or the "
          + "environment: a flag's value shows in the process list.")
  String token;

  @Option(names = "--token-file", defaultValue = "${env:SNAKEPIT_TOKEN_FILE}", paramLabel = "FILE",
      description = "A file holding the API key or JWT (env SNAKEPIT_TOKEN_FILE); surrounding whitespace is ignored.")
  java.nio.file.Path tokenFile;

  @Option(names = "--ca-cert", defaultValue = "${env:SNAKEPIT_CA_CERT}", paramLabel = "FILE",
      description = "PEM CA certificate to trust for an https --url (a private CA; env SNAKEPIT_CA_CERT). "
          + "Without it, the JVM's trusted CAs.")
  java.nio.file.Path caCert;

  @Option(names = "--client-cert", defaultValue = "${env:SNAKEPIT_CLIENT_CERT}", paramLabel = "FILE",
      description = "PEM client certificate, for a node that requires one (mutual TLS; env SNAKEPIT_CLIENT_CERT).")
  java.nio.file.Path clientCert;

  @Option(names = "--client-key", defaultValue = "${env:SNAKEPIT_CLIENT_KEY}", paramLabel = "FILE",
      description = "PEM private key of --client-cert (env SNAKEPIT_CLIENT_KEY).")
  java.nio.file.Path clientKey;

  @Option(names = "--json", description = "Print JSON for machines instead of tables.")
  boolean json;

  @Option(names = "--timeout", defaultValue = "30", paramLabel = "SECONDS",
      description = "How long to wait for an answer (default ${DEFAULT-VALUE}; export and import wait as long as "
          + "data flows).")
  long timeoutS;

  @Spec
  CommandSpec spec;

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  PrintWriter err() {
    return spec.commandLine().getErr();
  }

  /** Runs the command; returns its exit code. */
  abstract int run(NodeClient node) throws NodeError, Unreachable, Failure;

  /** A failure on this side (a file that cannot be written, say), with the exit code to end with. */
  static final class Failure extends Exception {
    final int exitCode;

    Failure(int exitCode, String message) {
      super(message, null, false, false);
      this.exitCode = exitCode;
    }
  }

  @Override
  public final Integer call() {
    URI base;
    try {
      base = new URI(url.endsWith("/") ? url : url + "/");
      if (!"http".equals(base.getScheme()) && !"https".equals(base.getScheme()) || base.getHost() == null) {
        throw new URISyntaxException(url, "must be http://HOST:PORT or https://HOST:PORT");
      }
    } catch (URISyntaxException e) {
      err().println("snakepit: --url " + url + " is not a usable URL: " + e.getReason());
      err().flush();
      return ExitCodes.USAGE;
    }
    if (timeoutS < 1) {
      err().println("snakepit: --timeout must be at least 1 second");
      err().flush();
      return ExitCodes.USAGE;
    }
    String bearer = token;
    if (tokenFile != null) {
      if (token != null && !token.isBlank()) {
        err().println("snakepit: give --token or --token-file, not both");
        err().flush();
        return ExitCodes.USAGE;
      }
      try {
        bearer = java.nio.file.Files.readString(tokenFile).strip();
      } catch (java.io.IOException e) {
        err().println("snakepit: cannot read --token-file " + tokenFile + ": " + e.getMessage());
        err().flush();
        return ExitCodes.USAGE;
      }
    }
    String presented = bearer == null || bearer.isBlank() ? null : bearer;
    try {
      javax.net.ssl.SSLContext tls = ClientTls.context(caCert, clientCert, clientKey);
      NodeClient node = new NodeClient(base, Duration.ofSeconds(Math.min(timeoutS, 10)),
          Duration.ofSeconds(timeoutS), tls, presented);
      return run(node);
    } catch (NodeError e) {
      PrintWriter err = err();
      err.println("snakepit: the node answered " + e.status + " " + e.code() + ": " + e.getMessage());
      if (e.hint() != null) {
        err.println("  hint: " + e.hint());
      }
      if (e.correlationId() != null) {
        err.println("  correlation id: " + e.correlationId());
      }
      err.flush();
      if (json) {
        out().println(new JsonObject().put("error", e.error.copy().put("http_status", e.status)).encode());
        out().flush();
      }
      return ExitCodes.NODE_ERROR;
    } catch (Unreachable e) {
      err().println("snakepit: cannot reach the node at " + url + ": " + e.getMessage()
          + " (set --url or SNAKEPIT_URL)");
      err().flush();
      return ExitCodes.UNREACHABLE;
    } catch (Failure e) {
      err().println("snakepit: " + e.getMessage());
      err().flush();
      return e.exitCode;
    } finally {
      out().flush();
    }
  }

  /** Prints a JSON value on one line. */
  void printJson(Object value) {
    out().println(value instanceof JsonObject o ? o.encode() : io.vertx.core.json.Json.encode(value));
    out().flush();
  }

  /** "3.2 s", "5 min", "2 h", "4 d": an age or a remaining time, from milliseconds. */
  static String duration(long ms) {
    if (ms < 0) {
      return "-" + duration(-ms);
    }
    if (ms < 1000) {
      return ms + " ms";
    }
    if (ms < 60_000) {
      return String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
    }
    if (ms < 3_600_000) {
      return ms / 60_000 + " min";
    }
    if (ms < 86_400_000) {
      return ms / 3_600_000 + " h";
    }
    return ms / 86_400_000 + " d";
  }
}
