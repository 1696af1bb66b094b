package io.snakepit.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashSet;
import java.util.Set;

/**
 * Reads one JSON object of configuration with types, bounds and defaults, and
 * remembers which keys were read so that {@link #rejectUnknownKeys()} can stop
 * a typo from being silently ignored. Every error names the full key path.
 */
public final class ConfigReader {

  private final JsonObject json;
  private final String path;
  private final Set<String> known = new HashSet<>();

  public ConfigReader(JsonObject json, String path) {
    this.json = json == null ? new JsonObject() : json;
    this.path = path;
  }

  /** The full dotted path of a key, for messages. */
  public String key(String key) {
    return path == null || path.isEmpty() ? key : path + "." + key;
  }

  public boolean has(String key) {
    known.add(key);
    return json.getValue(key) != null;
  }

  public String string(String key, String def) {
    known.add(key);
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (v instanceof String s) {
      return s;
    }
    if (v instanceof Number || v instanceof Boolean) {
      return v.toString();
    }
    throw new ConfigException(key(key) + " must be a string, got " + describe(v));
  }

  public long longValue(String key, long def, long min, long max) {
    known.add(key);
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    long n;
    if (v instanceof Number num) {
      if (num.doubleValue() != Math.rint(num.doubleValue())) {
        throw new ConfigException(key(key) + " must be a whole number, got " + v);
      }
      n = num.longValue();
    } else if (v instanceof String s) {
      try {
        n = Long.parseLong(s.trim());
      } catch (NumberFormatException e) {
        throw new ConfigException(key(key) + " must be a whole number, got \"" + s + "\"");
      }
    } else {
      throw new ConfigException(key(key) + " must be a whole number, got " + describe(v));
    }
    if (n < min || n > max) {
      throw new ConfigException(key(key) + " must be between " + min + " and " + max + ", got " + n);
    }
    return n;
  }

  /** A number (whole or not) within [min, max]. */
  public double doubleValue(String key, double def, double min, double max) {
    known.add(key);
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    double n;
    if (v instanceof Number num) {
      n = num.doubleValue();
    } else if (v instanceof String s) {
      try {
        n = Double.parseDouble(s.trim());
      } catch (NumberFormatException e) {
        throw new ConfigException(key(key) + " must be a number, got \"" + s + "\"");
      }
    } else {
      throw new ConfigException(key(key) + " must be a number, got " + describe(v));
    }
    if (Double.isNaN(n) || n < min || n > max) {
      throw new ConfigException(key(key) + " must be between " + min + " and " + max + ", got " + v);
    }
    return n;
  }

  public int intValue(String key, int def, int min, int max) {
    return (int) longValue(key, def, min, max);
  }

  public boolean bool(String key, boolean def) {
    known.add(key);
    Object v = json.getValue(key);
    if (v == null) {
      return def;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    if (v instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) {
      return Boolean.parseBoolean(s);
    }
    throw new ConfigException(key(key) + " must be true or false, got " + describe(v));
  }

  public String oneOf(String key, String def, String... allowed) {
    String v = string(key, def);
    for (String a : allowed) {
      if (a.equals(v)) {
        return v;
      }
    }
    throw new ConfigException(key(key) + " must be one of " + String.join(", ", allowed) + ", got \"" + v + "\"");
  }

  public JsonObject object(String key) {
    known.add(key);
    Object v = json.getValue(key);
    if (v == null) {
      return new JsonObject();
    }
    if (v instanceof JsonObject o) {
      return o;
    }
    throw new ConfigException(key(key) + " must be an object, got " + describe(v));
  }

  public JsonArray array(String key) {
    known.add(key);
    Object v = json.getValue(key);
    if (v == null) {
      return new JsonArray();
    }
    if (v instanceof JsonArray a) {
      return a;
    }
    throw new ConfigException(key(key) + " must be a list, got " + describe(v));
  }

  /** Fails on any key that no reader method asked for. */
  public void rejectUnknownKeys() {
    for (String k : json.fieldNames()) {
      if (!known.contains(k)) {
        throw new ConfigException("unknown configuration key " + key(k) + "; allowed here: "
            + String.join(", ", new java.util.TreeSet<>(known)));
      }
    }
  }

  private static String describe(Object v) {
    if (v instanceof JsonObject) {
      return "an object";
    }
    if (v instanceof JsonArray) {
      return "a list";
    }
    return v.getClass().getSimpleName().toLowerCase() + " " + v;
  }
}
