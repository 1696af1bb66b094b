package io.snakepit.app.cli;

import io.vertx.core.json.JsonObject;

/** The node answered a request with an error: {@code {"error": {"code","message","hint","correlation_id"}}}. */
final class NodeError extends Exception {

  final int status;
  final JsonObject error;

  NodeError(int status, JsonObject error) {
    super(error.getString("message"), null, false, false);
    this.status = status;
    this.error = error;
  }

  String code() {
    return error.getString("code", "http_" + status);
  }

  String correlationId() {
    return error.getString("correlation_id");
  }

  String hint() {
    return error.getString("hint");
  }
}
