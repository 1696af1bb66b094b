package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.Op.Outcome;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Set;
import java.util.UUID;

/**
 * Sends one operation over HTTP and records how it ended. Whether an error
 * means "nothing happened" (a failure) or "it may have happened" (unknown) is
 * decided here, once, from the typed error: the checkers trust it.
 */
final class HttpCalls {

  /** Codes whose operation may have taken effect: the call was running when it went wrong. */
  static final Set<String> MAYBE_RAN = Set.of("node_lost", "worker_crashed", "timeout", "cancelled",
      "protocol_error", "worker_limit_exceeded", "internal");

  private final HttpClient client;
  private final Duration timeout;

  HttpCalls(Duration timeout) {
    this.timeout = timeout;
    // A client of its own: a call's timeout is the run's, and a frozen node holds only its own connections.
    this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5)).build();
  }

  /** What to send: a method, a path under the node's URL, and a JSON body or {@code null}. */
  record Request(String method, String path, String body) {
  }

  /**
   * Sends {@code request} to {@code node} and returns the recorded operation. {@code value}: what the
   * operation writes ({@code null} when it writes nothing); the value of a successful read or call comes
   * from {@code reader}.
   */
  Op send(String clientId, Fn fn, String session, String key, Object value, String nodeLabel, String baseUrl,
          Request request, ResultReader reader) {
    String correlationId = "chaos-" + UUID.randomUUID();
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + request.path())).timeout(timeout)
        .header("Content-Type", "application/json").header("X-Correlation-Id", correlationId);
    HttpRequest.BodyPublisher body = request.body() == null ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(request.body());
    b.method(request.method(), body);
    long invoke = System.nanoTime();
    try {
      HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
      long complete = System.nanoTime();
      int status = r.statusCode();
      if (status >= 200 && status < 300) {
        Result read = reader.read(r.body());
        if (read.error() != null) {
          return failed(clientId, fn, session, key, value, nodeLabel, correlationId, invoke, complete, status,
              read.error());
        }
        return new Op(clientId, fn, session, key, read.value() == NONE ? value : read.value(), nodeLabel,
            read.ranOn(), correlationId, invoke, complete, Outcome.OK, status, null, read.extra());
      }
      JsonObject error = errorOf(r.body());
      return failed(clientId, fn, session, key, value, nodeLabel, correlationId, invoke, complete, status,
          error == null ? new JsonObject().put("untyped", abbreviate(r.body())) : error);
    } catch (ConnectException | java.net.http.HttpConnectTimeoutException refused) {
      // Nothing reached the node (it is down or restarting): the operation did not happen.
      return new Op(clientId, fn, session, key, value, nodeLabel, null, correlationId, invoke, System.nanoTime(),
          Outcome.FAIL, 0, "connection_refused", new JsonObject().put("exception", refused.toString()));
    } catch (java.net.http.HttpTimeoutException stalled) {
      return new Op(clientId, fn, session, key, value, nodeLabel, null, correlationId, invoke, System.nanoTime(),
          Outcome.UNKNOWN, 0, "timed_out", new JsonObject().put("exception", stalled.toString()));
    } catch (IOException | RuntimeException e) {
      return new Op(clientId, fn, session, key, value, nodeLabel, null, correlationId, invoke, System.nanoTime(),
          Outcome.UNKNOWN, 0, "no_answer", new JsonObject().put("exception", e.toString()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Op(clientId, fn, session, key, value, nodeLabel, null, correlationId, invoke, System.nanoTime(),
          Outcome.UNKNOWN, 0, "no_answer", new JsonObject().put("exception", "interrupted"));
    }
  }

  private static Op failed(String clientId, Fn fn, String session, String key, Object value, String nodeLabel,
                           String correlationId, long invoke, long complete, int status, JsonObject error) {
    String code = error.getString("code");
    boolean unknown = code == null || MAYBE_RAN.contains(code) || "unknown".equals(error.getString("outcome"))
        || error.getBoolean("tool_ran", false);
    return new Op(clientId, fn, session, key, value, nodeLabel, error.getString("node"), correlationId, invoke,
        complete, unknown ? Outcome.UNKNOWN : Outcome.FAIL, status, code, error);
  }

  static JsonObject errorOf(String body) {
    try {
      return new JsonObject(body).getJsonObject("error");
    } catch (RuntimeException notJson) {
      return null;
    }
  }

  static String abbreviate(String s) {
    return s.length() > 300 ? s.substring(0, 300) + "..." : s;
  }

  /** Marks a result without a value of its own: the operation's value stands. */
  static final Object NONE = new Object();

  /** What a successful answer said: its value, the node that ran it, extras, or an error inside it. */
  record Result(Object value, String ranOn, JsonObject extra, JsonObject error) {
  }

  /** Reads a successful answer's body. */
  @FunctionalInterface
  interface ResultReader {
    Result read(String body);
  }

  /** An answer whose body only says it worked. */
  static Result plain(String body) {
    return new Result(NONE, null, null, null);
  }

  /** A tool call's answer: {@code result}, and the node that ran it. */
  static Result toolResult(String body) {
    JsonObject j = new JsonObject(body);
    return new Result(j.getValue("result"), j.getString("node"), null, null);
  }

  /** A tool call's answer whose result is not needed: the node that ran it. */
  static Result ranOn(String body) {
    return new Result(NONE, new JsonObject(body).getString("node"), null, null);
  }

  /** A variable read: {@code value}. */
  static Result variable(String body) {
    return new Result(new JsonObject(body).getValue("value"), null, null, null);
  }

  /**
   * A streamed {@code count} of {@code n} items: OK only with every item, in order, and the done line; an
   * error line ends it as that error.
   */
  static ResultReader stream(int n) {
    return body -> {
      String ranOn = null;
      int next = 0;
      boolean done = false;
      for (String line : body.split("\n")) {
        if (line.isBlank()) {
          continue;
        }
        JsonObject j = new JsonObject(line);
        if (j.containsKey("start")) {
          ranOn = j.getString("node");
        } else if (j.containsKey("item")) {
          if (j.getJsonObject("item").getInteger("i") != next) {
            return new Result(null, ranOn, null, new JsonObject().put("code", "stream_out_of_order")
                .put("line", line));
          }
          next++;
        } else if (j.containsKey("done")) {
          done = true;
        } else if (j.containsKey("error")) {
          return new Result(null, ranOn, null, j.getJsonObject("error"));
        }
      }
      if (!done || next != n) {
        return new Result(null, ranOn, null, new JsonObject().put("code", "stream_incomplete")
            .put("items", next));
      }
      return new Result(next, ranOn, null, null);
    };
  }

  /** A {@code hold} call: the worker's interval goes into the extras. */
  static Result hold(String body) {
    JsonObject j = new JsonObject(body);
    JsonObject r = j.getJsonObject("result");
    return new Result(NONE, j.getString("node"), new JsonObject().put("start_ns", r.getLong("start_ns"))
        .put("end_ns", r.getLong("end_ns")).put("worker", j.getString("worker")), null);
  }

  /** A {@code recall} call: what the worker remembered. */
  static Result recall(String body) {
    JsonObject j = new JsonObject(body);
    return new Result(j.getJsonObject("result").getValue("value"), j.getString("node"),
        new JsonObject().put("worker", j.getString("worker")), null);
  }
}
