package io.snakepit.app.http;

import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;

/**
 * Requests the HTTP server cannot even parse (a request line past its limit, headers past theirs, a request
 * line that is not HTTP, a path with a bad percent-escape) get the API's typed error like every other bad request,
 * rather than Vert.x's bare status with an empty body (or, for a bad escape, an exception in the router),
 * and their connection is closed, since what follows on it cannot be trusted. Found by tests/fuzz.sh.
 */
final class MalformedRequests {

  private MalformedRequests() {
  }

  /** The server's invalid-request handler: the request line or headers did not parse. */
  static void answer(HttpServerRequest request) {
    DecoderResult result = request.decoderResult();
    Throwable cause = result == null ? null : result.cause();
    int status;
    String message;
    if (cause instanceof TooLongHttpLineException) {
      status = 414;
      message = "The request line is too long; send long inputs in the body, not the URI.";
    } else if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
      status = 431;
      message = "The request headers are too large; send fewer or shorter headers.";
    } else {
      status = 400;
      message = "The request is not valid HTTP/1.1" + (cause == null ? "." : ": " + cause.getMessage());
    }
    SnakepitException e = new SnakepitException(ErrorCode.BAD_REQUEST, message, Headers.newCorrelationId(),
        new JsonObject());
    request.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Connection", "close").putHeader(Headers.HTTP_CORRELATION_ID, e.correlationId())
        .end(HttpApiVerticle.errorBody(e))
        .onComplete(done -> request.connection().close());
  }

  /**
   * What is wrong with the charset a Content-Type names, or null: one this JVM does not have made Vert.x
   * throw while decoding the body, a 500 (found by tests/fuzz.sh). JSON is UTF-8 anyway (RFC 8259).
   */
  static String charsetProblem(String contentType) {
    if (contentType == null) {
      return null;
    }
    for (String param : contentType.split(";")) {
      String p = param.trim();
      if (p.regionMatches(true, 0, "charset=", 0, "charset=".length())) {
        String name = p.substring("charset=".length()).replace("\"", "").trim();
        try {
          if (java.nio.charset.Charset.isSupported(name)) {
            return null;
          }
        } catch (java.nio.charset.IllegalCharsetNameException e) {
          // falls through: not a charset at all
        }
        return "The Content-Type names a charset this server cannot read ('" + name + "'); send UTF-8 JSON.";
      }
    }
    return null;
  }

  /**
   * What is wrong with a request's raw path or query string, or null: in both a '%' must start an escape of two
   * hex digits. A bad escape in the query made Vert.x Web answer a bare 400, or a 500 where a route reads its
   * parameters (found by tests/fuzz.sh).
   */
  static String uriProblem(String path, String query) {
    if (path == null) {
      return "The request has no path.";
    }
    String bad = badEscape("path", path);
    return bad != null || query == null ? bad : badEscape("query string", query);
  }

  private static String badEscape(String part, String text) {
    for (int i = text.indexOf('%'); i >= 0; i = text.indexOf('%', i + 1)) {
      if (i + 2 >= text.length() || Character.digit(text.charAt(i + 1), 16) < 0
          || Character.digit(text.charAt(i + 2), 16) < 0) {
        return "The " + part + " has a '%' that does not start an escape of two hex digits (at " + i
            + "); escape '%' itself as %25.";
      }
    }
    return null;
  }
}
