package io.snakepit.app.grpc;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;

/**
 * Converts between the node's JSON (Vert.x {@link JsonObject}, {@link JsonArray}
 * and scalars) and protobuf's JSON well-known types ({@link Struct}, {@link Value}).
 *
 * <p>Protobuf has one number type, a double. A number that comes from a client
 * and is whole and within ±2^53 becomes a whole number in the node's JSON, so
 * that {@code {"n": 3}} reaches a Python tool as the int 3 and not 3.0, exactly
 * as it would over HTTP. NaN and infinities are refused: JSON has no such numbers.
 */
final class JsonValues {

  /** Largest whole number a double holds exactly. */
  private static final double MAX_EXACT = 9_007_199_254_740_992d;

  private JsonValues() {
  }

  /** A Struct from a client, as a JSON object. */
  static JsonObject toJson(Struct struct) {
    JsonObject json = new JsonObject();
    for (Map.Entry<String, Value> e : struct.getFieldsMap().entrySet()) {
      json.put(e.getKey(), toJava(e.getValue()));
    }
    return json;
  }

  /** A Value from a client, as JSON (null, Boolean, Long, Double, String, JsonObject or JsonArray). */
  static Object toJava(Value value) {
    switch (value.getKindCase()) {
      case NULL_VALUE:
      case KIND_NOT_SET:
        return null;
      case BOOL_VALUE:
        return value.getBoolValue();
      case STRING_VALUE:
        return value.getStringValue();
      case NUMBER_VALUE:
        double d = value.getNumberValue();
        if (Double.isNaN(d) || Double.isInfinite(d)) {
          throw new SnakepitException(ErrorCode.BAD_REQUEST, "JSON has no NaN or infinite numbers; send a finite number.");
        }
        if (d == Math.rint(d) && Math.abs(d) <= MAX_EXACT) {
          return (long) d;
        }
        return d;
      case STRUCT_VALUE:
        return toJson(value.getStructValue());
      case LIST_VALUE:
        JsonArray array = new JsonArray();
        for (Value v : value.getListValue().getValuesList()) {
          array.add(toJava(v));
        }
        return array;
      default:
        throw new SnakepitException(ErrorCode.BAD_REQUEST, "Unknown kind of google.protobuf.Value: " + value.getKindCase());
    }
  }

  /** A JSON object of the node as a Struct. */
  static Struct toStruct(JsonObject json) {
    Struct.Builder b = Struct.newBuilder();
    if (json != null) {
      for (Map.Entry<String, Object> e : json) {
        b.putFields(e.getKey(), toValue(e.getValue()));
      }
    }
    return b.build();
  }

  /** Any JSON value of the node as a Value. */
  static Value toValue(Object o) {
    if (o == null) {
      return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    }
    if (o instanceof Boolean b) {
      return Value.newBuilder().setBoolValue(b).build();
    }
    if (o instanceof Number n) {
      return Value.newBuilder().setNumberValue(n.doubleValue()).build();
    }
    if (o instanceof String s) {
      return Value.newBuilder().setStringValue(s).build();
    }
    if (o instanceof JsonObject j) {
      return Value.newBuilder().setStructValue(toStruct(j)).build();
    }
    if (o instanceof JsonArray a) {
      ListValue.Builder list = ListValue.newBuilder();
      for (Object item : a) {
        list.addValues(toValue(item));
      }
      return Value.newBuilder().setListValue(list).build();
    }
    if (o instanceof Map<?, ?> m) {
      @SuppressWarnings("unchecked")
      Map<String, Object> map = (Map<String, Object>) m;
      return toValue(new JsonObject(map));
    }
    if (o instanceof List<?> l) {
      return toValue(new JsonArray(l));
    }
    // Bytes (byte[], Buffer) and anything else: as the node's JSON encoding writes it (bytes as base64).
    return toValue(Json.decodeValue(Json.encode(o)));
  }
}
