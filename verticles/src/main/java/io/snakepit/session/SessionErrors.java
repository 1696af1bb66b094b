package io.snakepit.session;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;

/** The typed errors of session operations, worded once. */
public final class SessionErrors {

  private SessionErrors() {
  }

  public static SnakepitException notFound(String id) {
    return new SnakepitException(ErrorCode.SESSION_NOT_FOUND, "No session '" + id + "' (it may have expired).",
        null, new JsonObject().put("session_id", id));
  }

  public static SnakepitException noSuch(String kind, String name, String id) {
    return new SnakepitException(ErrorCode.NOT_FOUND_IN_SESSION, "Session '" + id + "' has no " + kind + " '"
        + name + "'.", null, new JsonObject().put("session_id", id).put(kind, name));
  }

  public static SnakepitException badId(String id) {
    return new SnakepitException(ErrorCode.BAD_REQUEST, "A session id is 1 to 128 characters of [A-Za-z0-9._:-], got '"
        + (id != null && id.length() > 140 ? id.substring(0, 140) + "..." : id) + "'.");
  }

  public static SnakepitException conflict(String id, int retries) {
    return new SnakepitException(ErrorCode.CONFLICT, "Session '" + id + "' changed concurrently " + retries
        + " times in a row; the update was not applied.", null, new JsonObject().put("session_id", id));
  }

  public static SnakepitException tooMany(long max) {
    return new SnakepitException(ErrorCode.LIMIT_EXCEEDED, "The store holds its maximum of " + max
        + " sessions (sessions.limits.max-sessions); delete some or raise the limit.", null,
        new JsonObject().put("limit", "max-sessions").put("max", max));
  }
}
