package io.snakepit.client;

import io.vertx.core.json.JsonObject;

/**
 * What a call returned.
 *
 * @param result the tool's return value (JSON; {@code bytes} as {@link io.vertx.core.buffer.Buffer}s)
 * @param worker the worker that ran it
 * @param node   the node that ran it
 */
public record ExecuteResult(Object result, String worker, String node) {

  static ExecuteResult fromJson(JsonObject j) {
    return new ExecuteResult(j.getValue("result"), j.getString("worker"), j.getString("node"));
  }
}
