package io.snakepit.app.http;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The answer of an execute operation as {@code multipart/form-data}, for a client that asks for it with
 * {@code Accept: multipart/form-data}: a part {@value #RESPONSE_PART} holding the usual JSON answer, in which
 * each value the tool returned as {@code bytes} is an object {@code {"$part": "bytes-k"}} naming one of the
 * following binary parts. The same form as a multipart request, so one parser serves both ways.
 */
final class MultipartAnswer {

  /** The part that holds the answer's JSON. */
  static final String RESPONSE_PART = "response";
  /** The media type a client names in {@code Accept} to get this form. */
  static final String MEDIA_TYPE = "multipart/form-data";

  private MultipartAnswer() {
  }

  /** Whether an {@code Accept} header asks for a multipart answer: it names {@value #MEDIA_TYPE}, not with q=0. */
  static boolean wanted(String accept) {
    if (accept == null) {
      return false;
    }
    for (String range : accept.split(",")) {
      if (MultipartForm.mediaType(range).equals(MEDIA_TYPE)) {
        String q = MultipartForm.parameter(range, "q");
        try {
          return q == null || Double.parseDouble(q) > 0;
        } catch (NumberFormatException e) {
          return true; // a malformed weight is no refusal
        }
      }
    }
    return false;
  }

  /**
   * The form of {@code reply}. Fails with {@link ErrorCode#TOOL_FAILED} when the tool itself returned an object
   * of the reserved shape {@code {"$part": "..."}}, which a client would read as a part.
   */
  static MultipartForm.Written of(JsonObject reply, String correlationId) {
    List<MultipartForm.Part> binaries = new ArrayList<>();
    Object json = withoutBytes(reply, binaries, correlationId);
    List<MultipartForm.Part> parts = new ArrayList<>(binaries.size() + 1);
    parts.add(new MultipartForm.Part(RESPONSE_PART, null, "application/json",
        ((JsonObject) json).toBuffer()));
    parts.addAll(binaries);
    return MultipartForm.write(parts);
  }

  /** A copy of {@code value} with its bytes moved to {@code out}; the reply itself may be shared, so it is not changed. */
  private static Object withoutBytes(Object value, List<MultipartForm.Part> out, String correlationId) {
    Buffer bytes = value instanceof Buffer b ? b : value instanceof byte[] a ? Buffer.buffer(a) : null;
    if (bytes != null) {
      String name = "bytes-" + out.size();
      out.add(new MultipartForm.Part(name, name, "application/octet-stream", bytes));
      return new JsonObject().put(ExecuteRequestReader.PART_KEY, name);
    }
    Map<?, ?> map = value instanceof JsonObject o ? o.getMap() : value instanceof Map<?, ?> m ? m : null;
    if (map != null) {
      if (map.size() == 1 && map.get(ExecuteRequestReader.PART_KEY) instanceof String) {
        throw new SnakepitException(ErrorCode.TOOL_FAILED, "The tool returned an object of the form {\""
            + ExecuteRequestReader.PART_KEY + "\": \"...\"}, which a multipart answer reserves for its binary "
            + "parts; ask for JSON instead (no 'Accept: multipart/form-data'), or return another shape.",
            correlationId, null);
      }
      Map<String, Object> copy = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        copy.put(String.valueOf(e.getKey()), withoutBytes(e.getValue(), out, correlationId));
      }
      return new JsonObject(copy);
    }
    List<?> list = value instanceof JsonArray a ? a.getList() : value instanceof List<?> l ? l : null;
    if (list != null) {
      List<Object> copy = new ArrayList<>(list.size());
      for (Object item : list) {
        copy.add(withoutBytes(item, out, correlationId));
      }
      return new JsonArray(copy);
    }
    return value;
  }
}
