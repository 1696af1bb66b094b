package io.snakepit.protocol;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;

/**
 * Moves binary values between a JSON body and a frame's attachments. Outgoing,
 * {@code byte[]} and {@link Buffer} values become {@code {"$att": k}}; incoming,
 * placeholders become {@link Buffer}s. Bodies without binary values pass
 * through untouched, so the common case costs one scan at most.
 */
public final class Attachments {

  private static final String KEY = "$att";

  private Attachments() {
  }

  /** Replaces binary values by placeholders, appending them to {@code out}. */
  static JsonObject extract(JsonObject body, List<Buffer> out) {
    if (!containsBinary(body)) {
      return body;
    }
    return (JsonObject) extractValue(body.copy(), out);
  }

  private static boolean containsBinary(Object value) {
    if (value instanceof byte[] || value instanceof Buffer) {
      return true;
    }
    if (value instanceof JsonObject o) {
      for (Map.Entry<String, Object> e : o) {
        if (containsBinary(e.getValue())) {
          return true;
        }
      }
    } else if (value instanceof JsonArray a) {
      for (Object v : a) {
        if (containsBinary(v)) {
          return true;
        }
      }
    }
    return false;
  }

  private static Object extractValue(Object value, List<Buffer> out) {
    if (value instanceof byte[] bytes) {
      out.add(Buffer.buffer(bytes));
      return new JsonObject().put(KEY, out.size() - 1);
    }
    if (value instanceof Buffer b) {
      out.add(b);
      return new JsonObject().put(KEY, out.size() - 1);
    }
    if (value instanceof JsonObject o) {
      for (String k : o.fieldNames()) {
        o.put(k, extractValue(o.getValue(k), out));
      }
      return o;
    }
    if (value instanceof JsonArray a) {
      for (int i = 0; i < a.size(); i++) {
        a.set(i, extractValue(a.getValue(i), out));
      }
      return a;
    }
    return value;
  }

  /** Replaces placeholders by the attachments they name. */
  static JsonObject resolve(JsonObject body, List<Buffer> attachments) {
    return (JsonObject) resolveValue(body, attachments);
  }

  private static Object resolveValue(Object value, List<Buffer> attachments) {
    if (value instanceof JsonObject o) {
      if (o.size() == 1 && o.getValue(KEY) instanceof Number n) {
        int k = n.intValue();
        if (k < 0 || k >= attachments.size()) {
          throw new ProtocolException("placeholder names attachment " + k + " of " + attachments.size());
        }
        return attachments.get(k);
      }
      for (String key : o.fieldNames()) {
        o.put(key, resolveValue(o.getValue(key), attachments));
      }
      return o;
    }
    if (value instanceof JsonArray a) {
      for (int i = 0; i < a.size(); i++) {
        a.set(i, resolveValue(a.getValue(i), attachments));
      }
      return a;
    }
    return value;
  }
}
