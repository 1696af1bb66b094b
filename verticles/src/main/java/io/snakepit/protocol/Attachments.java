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
      return containsBinary(o.getMap());
    }
    if (value instanceof JsonArray a) {
      return containsBinary(a.getList());
    }
    if (value instanceof Map<?, ?> m) {
      for (Object v : m.values()) {
        if (containsBinary(v)) {
          return true;
        }
      }
    } else if (value instanceof List<?> l) {
      for (Object v : l) {
        if (containsBinary(v)) {
          return true;
        }
      }
    }
    return false;
  }

  // Values are read and written through the backing map and list: JsonObject.put would turn
  // binary into base64 at once, which is the very cost attachments exist to avoid.
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
      for (Map.Entry<String, Object> e : o.getMap().entrySet()) {
        e.setValue(extractValue(e.getValue(), out));
      }
      return o;
    }
    if (value instanceof Map<?, ?> m) {
      return extractValue(new JsonObject(castMap(m)), out);
    }
    if (value instanceof JsonArray a) {
      List<Object> list = a.getList();
      for (int i = 0; i < list.size(); i++) {
        list.set(i, extractValue(list.get(i), out));
      }
      return a;
    }
    if (value instanceof List<?> l) {
      return extractValue(new JsonArray(new java.util.ArrayList<>(l)), out);
    }
    return value;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> castMap(Map<?, ?> m) {
    return (Map<String, Object>) m;
  }

  /** Replaces placeholders by the attachments they name. */
  static JsonObject resolve(JsonObject body, List<Buffer> attachments) {
    return (JsonObject) resolveValue(body, attachments);
  }

  private static Object resolveValue(Object value, List<Buffer> attachments) {
    if (value instanceof JsonObject o) {
      if (o.size() == 1 && o.getValue(KEY) instanceof Number n) {
        return attachment(n, attachments);
      }
      for (Map.Entry<String, Object> e : o.getMap().entrySet()) {
        e.setValue(resolveValue(e.getValue(), attachments));
      }
      return o;
    }
    if (value instanceof Map<?, ?> m) {
      return resolveValue(new JsonObject(castMap(m)), attachments);
    }
    if (value instanceof JsonArray a) {
      List<Object> list = a.getList();
      for (int i = 0; i < list.size(); i++) {
        list.set(i, resolveValue(list.get(i), attachments));
      }
      return a;
    }
    if (value instanceof List<?> l) {
      return resolveValue(new JsonArray(new java.util.ArrayList<>(l)), attachments);
    }
    return value;
  }

  private static Buffer attachment(Number n, List<Buffer> attachments) {
    int k = n.intValue();
    if (k < 0 || k >= attachments.size()) {
      throw new ProtocolException("placeholder names attachment " + k + " of " + attachments.size());
    }
    return attachments.get(k);
  }
}
