package io.snakepit.contract;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.impl.JsonUtil;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where the bytes are in a JSON body that crosses the event bus between JVMs.
 *
 * <p>Vert.x's JSON writes a {@code byte[]} or {@link Buffer} value as a base64 string, which the
 * receiver cannot tell from a string the caller sent: a Python tool on another node would get
 * {@code str} where the node that took the call had {@code bytes}. So the sender lists, out of band,
 * the paths of its binary values: in the header {@link Headers#BYTES_AT} of a message, or after the
 * JSON in a Snakepit codec's wire form ({@link #writeJson}); the receiver turns the strings at those
 * paths back into bytes ({@link Buffer}s, as the node's own front doors and workers produce them).
 *
 * <p>A path is a JSON array from the body's root of object keys (strings) and list indexes (whole
 * numbers): {@code [["args","image"],["args","frames",2]]}. Being out of band, nothing a caller can
 * put in its own JSON is mistaken for bytes, and a receiver that does not know the header (a node of
 * an earlier version, an application on plain Vert.x) simply sees the base64 strings, as before.
 */
public final class BytePaths {

  /**
   * The version byte that opens the trailer {@link #writeJson} appends after a codec's JSON. A decoder
   * of an earlier version reads the JSON by its length and never looks past it; a later trailer version
   * would take another byte, which this decoder ignores (it then sees base64 strings).
   */
  static final byte TRAILER_V1 = 1;

  private BytePaths() {
  }

  /** The paths of every {@code byte[]} and {@link Buffer} in {@code value}, or {@code null} when it has none. */
  public static JsonArray of(Object value) {
    List<Object> found = new ArrayList<>();
    collect(value, new ArrayList<>(), found);
    return found.isEmpty() ? null : new JsonArray(found);
  }

  private static void collect(Object value, List<Object> path, List<Object> found) {
    if (value instanceof byte[] || value instanceof Buffer) {
      found.add(new JsonArray(new ArrayList<>(path)));
      return;
    }
    Map<?, ?> map = value instanceof JsonObject o ? o.getMap() : value instanceof Map<?, ?> m ? m : null;
    if (map != null) {
      for (Map.Entry<?, ?> e : map.entrySet()) {
        path.add(String.valueOf(e.getKey()));
        collect(e.getValue(), path, found);
        path.remove(path.size() - 1);
      }
      return;
    }
    List<?> list = value instanceof JsonArray a ? a.getList() : value instanceof List<?> l ? l : null;
    if (list != null) {
      for (int i = 0; i < list.size(); i++) {
        path.add(i);
        collect(list.get(i), path, found);
        path.remove(path.size() - 1);
      }
    }
  }

  /**
   * Turns the base64 strings at {@code paths} in {@code root} back into bytes, in place. A path that does
   * not lead to a string (it was restored already, as when a local delivery copied the bytes themselves)
   * or to valid base64 is left alone: the value stays what the JSON said.
   */
  public static void restore(Object root, JsonArray paths) {
    if (paths == null) {
      return;
    }
    for (Object p : paths) {
      if (p instanceof JsonArray path && !path.isEmpty()) {
        restoreAt(root, path);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static void restoreAt(Object root, JsonArray path) {
    Object parent = root;
    for (int i = 0; i < path.size() - 1; i++) {
      parent = child(parent, path.getValue(i));
      if (parent == null) {
        return;
      }
    }
    Object last = path.getValue(path.size() - 1);
    // Written through the backing map and list: JsonObject.put and JsonArray.set would check and convert.
    Map<String, Object> map = parent instanceof JsonObject o ? o.getMap()
        : parent instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
    if (map != null && last instanceof String key && map.get(key) instanceof String text) {
      Buffer bytes = decode(text);
      if (bytes != null) {
        map.put(key, bytes);
      }
      return;
    }
    List<Object> list = parent instanceof JsonArray a ? a.getList() : parent instanceof List<?> l ? (List<Object>) l
        : null;
    if (list != null && last instanceof Number n && n.intValue() >= 0 && n.intValue() < list.size()
        && list.get(n.intValue()) instanceof String text) {
      Buffer bytes = decode(text);
      if (bytes != null) {
        list.set(n.intValue(), bytes);
      }
    }
  }

  private static Object child(Object parent, Object step) {
    if (step instanceof String key) {
      return parent instanceof JsonObject o ? o.getMap().get(key) : parent instanceof Map<?, ?> m ? m.get(key) : null;
    }
    if (step instanceof Number n) {
      List<?> list = parent instanceof JsonArray a ? a.getList() : parent instanceof List<?> l ? l : null;
      int i = n.intValue();
      return list != null && i >= 0 && i < list.size() ? list.get(i) : null;
    }
    return null;
  }

  /** The bytes of a base64 string as Vert.x's JSON wrote it (the same decoder), or null when it is not one. */
  private static Buffer decode(String text) {
    try {
      return Buffer.buffer(JsonUtil.BASE64_DECODER.decode(text));
    } catch (IllegalArgumentException notBase64) {
      return null;
    }
  }

  // ---- on a message ------------------------------------------------------------------------------

  /**
   * {@code options} with the header {@link Headers#BYTES_AT} listing the bytes of {@code body}, when it has
   * some (otherwise unchanged, and without a header a receiver would have to parse); for a body that may
   * cross to another JVM. Returns {@code options}.
   */
  public static DeliveryOptions mark(DeliveryOptions options, Object body) {
    JsonArray paths = of(body);
    if (paths != null) {
      // addHeader, not getHeaders().set: options built without headers have none to set.
      options.addHeader(Headers.BYTES_AT, paths.encode());
    }
    return options;
  }

  /**
   * The body of a message that may have crossed from another JVM, with the bytes its header
   * {@link Headers#BYTES_AT} lists restored in place. A header that is not a JSON array is ignored.
   */
  public static <T> T restore(Message<T> message) {
    T body = message.body();
    String header = message.headers().get(Headers.BYTES_AT);
    if (header != null && body != null) {
      try {
        restore(body, new JsonArray(header));
      } catch (DecodeException | ClassCastException notPaths) {
        // not ours to fail on: the body stays as its JSON said
      }
    }
    return body;
  }

  // ---- in a codec's wire form ----------------------------------------------------------------------

  /**
   * A JSON object as Snakepit's codecs write it: its length and its text, as Vert.x's own JSON codec
   * writes them; then, only when it holds bytes, the trailer {@code [1][length][paths as a JSON array]}.
   */
  static void writeJson(Buffer buffer, JsonObject json) {
    Buffer encoded = json.toBuffer();
    buffer.appendInt(encoded.length()).appendBuffer(encoded);
    JsonArray paths = of(json);
    if (paths != null) {
      Buffer trailer = paths.toBuffer();
      buffer.appendByte(TRAILER_V1).appendInt(trailer.length()).appendBuffer(trailer);
    }
  }

  /**
   * The inverse of {@link #writeJson}, from {@code pos}. The body is the last thing in a message's wire
   * form, so whatever follows the JSON is its trailer; a form without one (an earlier node's) is plain JSON.
   */
  static JsonObject readJson(int pos, Buffer buffer) {
    int length = buffer.getInt(pos);
    int end = pos + 4 + length;
    JsonObject json = new JsonObject(buffer.getBuffer(pos + 4, end));
    if (buffer.length() >= end + 5 && buffer.getByte(end) == TRAILER_V1) {
      int pathsLength = buffer.getInt(end + 1);
      restore(json, new JsonArray(buffer.getBuffer(end + 5, end + 5 + pathsLength)));
    }
    return json;
  }
}
