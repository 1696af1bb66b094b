package io.snakepit.protocol;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * One protocol frame: a type, a request id (0 for connection-level frames), a
 * JSON body and binary attachments. Inside the body, {@code {"$att": k}}
 * stands for attachment {@code k}; {@link Attachments} resolves them.
 */
public record Frame(FrameType type, int id, JsonObject body, List<Buffer> attachments) {

  public Frame {
    body = body == null ? new JsonObject() : body;
    attachments = attachments == null ? List.of() : attachments;
  }

  public static Frame of(FrameType type, int id, JsonObject body) {
    return new Frame(type, id, body, List.of());
  }
}
