package io.snakepit.session.migration;

import io.snakepit.session.Session;
import io.snakepit.session.Stamped;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a verify compares of one session in two stores: a SHA-256 digest per part, of a canonical form (keys
 * sorted, every entry with its stamp). The parts are {@code variables}, {@code metadata}, {@code programs} (each
 * with their deleted entries), {@code ttl} and {@code tombstones} (the names of the deleted entries). Not the
 * access time, which every read moves, nor the version, which each store counts on its own.
 */
final class SessionDigest {

  private SessionDigest() {
  }

  /** Part name to digest, in a fixed order. */
  static Map<String, String> of(Session s) {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("variables", sha256(canonical(s.variables())));
    out.put("metadata", sha256(canonical(s.metadata())));
    out.put("programs", sha256(canonical(s.programs())));
    out.put("ttl", Long.toString(s.ttlMs()));
    JsonArray tombstones = new JsonArray();
    deleted("variable:", s.variables(), tombstones);
    deleted("metadata:", s.metadata(), tombstones);
    deleted("program:", s.programs(), tombstones);
    out.put("tombstones", sha256(tombstones.encode() + "|" + s.deletedHlc()));
    return out;
  }

  private static String canonical(Map<String, Stamped> entries) {
    StringBuilder b = new StringBuilder();
    new TreeMap<>(entries).forEach((k, v) -> {
      JsonObject e = new JsonObject().put("hlc", v.hlc()).put("node", v.node()).put("deleted", v.deleted());
      if (v.isCounter()) {
        e.put("counter", new JsonObject().put("p", new TreeMap<>(v.counter().up()))
            .put("m", new TreeMap<>(v.counter().down())));
      } else {
        e.put("value", canonicalValue(v.value()));
      }
      b.append(k).append('=').append(e.encode()).append('\n');
    });
    return b.toString();
  }

  /** A JSON value with object keys sorted, so that two equal values encode alike. */
  private static Object canonicalValue(Object v) {
    if (v instanceof JsonObject o) {
      TreeMap<String, Object> sorted = new TreeMap<>();
      o.forEach(e -> sorted.put(e.getKey(), canonicalValue(e.getValue())));
      return new JsonObject(new LinkedHashMap<>(sorted));
    }
    if (v instanceof JsonArray a) {
      JsonArray out = new JsonArray();
      a.forEach(x -> out.add(canonicalValue(x)));
      return out;
    }
    return v;
  }

  private static void deleted(String prefix, Map<String, Stamped> entries, JsonArray out) {
    new TreeMap<>(entries).forEach((k, v) -> {
      if (v.deleted()) {
        out.add(prefix + k + "@" + v.hlc());
      }
    });
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
