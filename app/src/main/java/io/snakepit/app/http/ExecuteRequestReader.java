package io.snakepit.app.http;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the body of the execute operations ({@code POST /v1/execute},
 * {@code /v1/execute/stream} and their {@code /v1/sessions/{id}/...} forms)
 * into an {@link ExecuteRequest}, checking exactly what {@code /openapi.json}
 * says of them, in one pass over the decoded body.
 *
 * <p>Why not the OpenAPI validator: it took 64% of the node's CPU on
 * {@code /v1/execute} (it compiles the schema's pattern and copies maps on every
 * request, eclipse-vertx/vertx-json-schema#121). The rules here are the
 * contract's {@code ExecuteRequest} schema and the {@code id} path parameter,
 * as that validator applies them (lengths in code points, a whole-valued
 * {@code 5.0} is an integer, the pattern is searched for, the content type is
 * matched by prefix); {@code ExecuteRequestReaderEquivalenceTest} feeds random
 * bodies to both and holds them to the same verdict. Every other operation is
 * still checked by the validator.
 */
final class ExecuteRequestReader {

  /** The contract's {@code ExecuteRequest} properties; the schema allows no others. */
  private static final Set<String> FIELDS = Set.of("tool", "args", "pool", "timeout_ms", "session_id", "affinity");
  private static final Set<String> AFFINITIES = Set.of("hint", "strict-queue", "strict-fail-fast");
  /** The contract's pattern for session ids, in the body and in the path. */
  private static final Pattern SESSION_ID = Pattern.compile("^[A-Za-z0-9._:-]{1,128}$");
  private static final long MAX_TIMEOUT_MS = ExecuteRequest.MAX_TIMEOUT_MS;
  /** The part of a multipart execute body that holds the call's JSON. */
  static final String REQUEST_PART = "request";
  /** The key of the object that stands for a binary part, in a multipart request's args and answer's result. */
  static final String PART_KEY = "$part";

  private ExecuteRequestReader() {
  }

  /**
   * The request a body asks for; {@code pathSessionId} (null when the path has none) is the session
   * it runs in. Fails with {@link ErrorCode#BAD_REQUEST} saying what is wrong.
   */
  static ExecuteRequest read(String contentType, Buffer body, String pathSessionId, String correlationId) {
    // The validator refuses a path id with a trailing line break that its search of the pattern would let
    // through in a body; the whole id must match here, as there.
    if (pathSessionId != null && !SESSION_ID.matcher(pathSessionId).matches()) {
      throw bad("the session id in the path must match " + SESSION_ID.pattern(), correlationId);
    }
    JsonObject json = decode(contentType, body, correlationId);
    String violation = violation(json);
    if (violation != null) {
      throw bad(violation, correlationId);
    }
    if (pathSessionId != null) {
      json.put("session_id", pathSessionId);
    }
    return ExecuteRequest.fromJson(json, correlationId);
  }

  /**
   * The request a {@code multipart/form-data} body asks for: its part {@value #REQUEST_PART} holds the usual
   * JSON body, in which an object {@code {"$part": "name"}} anywhere in {@code args} stands for the bytes of the
   * part of that name, which the tool gets as {@code bytes}. Every other part must be referred to, and every
   * reference must name a part. Fails with {@link ErrorCode#BAD_REQUEST} saying what is wrong.
   */
  static ExecuteRequest readForm(String contentType, Buffer body, String pathSessionId, String correlationId) {
    Map<String, Buffer> binaries = new LinkedHashMap<>();
    MultipartForm.Part request = null;
    for (MultipartForm.Part part : MultipartForm.parse(contentType, body, correlationId)) {
      if (part.name().equals(REQUEST_PART)) {
        request = part;
      } else {
        binaries.put(part.name(), part.content());
      }
    }
    if (request == null) {
      throw MultipartForm.bad("it has no part named '" + REQUEST_PART + "' holding the call's JSON, like "
          + "-F request='{\"tool\": \"echo\", \"args\": {\"data\": {\"$part\": \"data\"}}}'"
          + (binaries.isEmpty() ? "" : "; its parts are " + String.join(", ", binaries.keySet())), correlationId);
    }
    if (request.contentType() != null
        && !MultipartForm.mediaType(request.contentType()).equals("application/json")) {
      throw MultipartForm.bad("the part '" + REQUEST_PART + "' must be JSON (no Content-Type, or application/json),"
          + " not " + request.contentType(), correlationId);
    }
    Buffer json = request.content();
    if (pathSessionId != null && !SESSION_ID.matcher(pathSessionId).matches()) {
      throw bad("the session id in the path must match " + SESSION_ID.pattern(), correlationId);
    }
    JsonObject decoded = decode("application/json", json, correlationId);
    String violation = violation(decoded);
    if (violation != null) {
      throw bad(violation, correlationId);
    }
    Set<String> referenced = new HashSet<>();
    Object args = decoded.getValue("args");
    if (args != null) {
      decoded.getMap().put("args", withParts(args, binaries, referenced, correlationId));
    }
    for (String name : binaries.keySet()) {
      if (!referenced.contains(name)) {
        throw MultipartForm.bad("the part '" + name + "' is not referred to by the request; name it in 'args' as "
            + "{\"" + PART_KEY + "\": \"" + name + "\"}, or leave it out", correlationId);
      }
    }
    if (pathSessionId != null) {
      decoded.put("session_id", pathSessionId);
    }
    return ExecuteRequest.fromJson(decoded, correlationId);
  }

  /** {@code value} with each {@code {"$part": name}} replaced by the bytes of that part, in place. */
  private static Object withParts(Object value, Map<String, Buffer> parts, Set<String> referenced,
                                  String correlationId) {
    Map<String, Object> map = value instanceof JsonObject o ? o.getMap()
        : value instanceof Map<?, ?> m ? castMap(m) : null;
    if (map != null) {
      if (map.size() == 1 && map.get(PART_KEY) instanceof String name) {
        Buffer bytes = parts.get(name);
        if (bytes == null) {
          throw MultipartForm.bad("'args' refers to the part '" + name + "', which the request does not have"
              + (parts.isEmpty() ? "" : "; its parts are " + String.join(", ", parts.keySet())), correlationId);
        }
        referenced.add(name);
        return bytes;
      }
      // Written through the backing map: JsonObject.put would turn bytes into base64 at once.
      for (Map.Entry<String, Object> e : map.entrySet()) {
        e.setValue(withParts(e.getValue(), parts, referenced, correlationId));
      }
      return value;
    }
    List<Object> list = value instanceof JsonArray a ? a.getList() : value instanceof List<?> l ? castList(l) : null;
    if (list != null) {
      for (int i = 0; i < list.size(); i++) {
        list.set(i, withParts(list.get(i), parts, referenced, correlationId));
      }
    }
    return value;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> castMap(Map<?, ?> m) {
    return (Map<String, Object>) m;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> castList(List<?> l) {
    return (List<Object>) l;
  }

  /** The body as a JSON object, decoded once, as the validator decodes it. */
  static JsonObject decode(String contentType, Buffer body, String correlationId) {
    if (contentType == null || !contentType.replaceAll("\\s+", "").startsWith("application/json")) {
      throw bad("the body must be application/json", correlationId);
    }
    if (body == null || body.length() == 0) {
      throw bad("the request needs a JSON object body like {\"tool\": \"echo\", \"args\": {}}", correlationId);
    }
    Object decoded;
    try {
      decoded = Json.decodeValue(body);
    } catch (DecodeException e) {
      throw bad("the body is not valid JSON: " + e.getMessage(), correlationId);
    }
    if (!(decoded instanceof JsonObject json)) {
      throw bad("the body must be a JSON object like {\"tool\": \"echo\", \"args\": {}}", correlationId);
    }
    return json;
  }

  /** What in a decoded body breaks the contract's {@code ExecuteRequest} schema, or null when nothing does. */
  static String violation(JsonObject body) {
    for (String name : body.fieldNames()) {
      if (!FIELDS.contains(name)) {
        return "unknown field '" + name + "'; the fields are " + String.join(", ", FIELDS.stream().sorted().toList());
      }
    }
    Object tool = body.getValue("tool");
    if (!(tool instanceof String t)) {
      return "'tool' is required: a string naming the tool";
    }
    int length = t.codePointCount(0, t.length());
    if (length < 1 || length > 128) {
      return "'tool' must be 1 to 128 characters long";
    }
    if (body.containsKey("args") && !(body.getValue("args") instanceof JsonObject)) {
      return "'args' must be a JSON object of keyword arguments";
    }
    if (body.containsKey("pool") && !(body.getValue("pool") instanceof String)) {
      return "'pool' must be a string";
    }
    if (body.containsKey("timeout_ms") && !wholeNumberIn(body.getValue("timeout_ms"), 1, MAX_TIMEOUT_MS)) {
      return "'timeout_ms' must be a whole number from 1 to " + MAX_TIMEOUT_MS;
    }
    if (body.containsKey("session_id")
        && !(body.getValue("session_id") instanceof String s && SESSION_ID.matcher(s).find())) {
      return "'session_id' must be a string matching " + SESSION_ID.pattern();
    }
    if (body.containsKey("affinity") && !(body.getValue("affinity") instanceof String a && AFFINITIES.contains(a))) {
      return "'affinity' must be one of hint, strict-queue, strict-fail-fast";
    }
    return null;
  }

  /** JSON Schema's {@code integer} with bounds: any number with no fraction (5.0 is whole), compared by value. */
  private static boolean wholeNumberIn(Object value, long min, long max) {
    if (!(value instanceof Number n)) {
      return false;
    }
    BigDecimal v;
    if (n instanceof BigDecimal d) {
      v = d;
    } else if (n instanceof BigInteger i) {
      v = new BigDecimal(i);
    } else if (n instanceof Double || n instanceof Float) {
      double d = n.doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        return false;
      }
      v = BigDecimal.valueOf(d);
    } else {
      v = BigDecimal.valueOf(n.longValue());
    }
    return v.stripTrailingZeros().scale() <= 0 && v.compareTo(BigDecimal.valueOf(min)) >= 0
        && v.compareTo(BigDecimal.valueOf(max)) <= 0;
  }

  private static SnakepitException bad(String reason, String correlationId) {
    return new SnakepitException(ErrorCode.BAD_REQUEST,
        "The request does not match the API (see /openapi.json): " + reason, correlationId, null);
  }
}
