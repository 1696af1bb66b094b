package io.snakepit.app.security;

import io.snakepit.config.ConfigException;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The API keys file: {@code {"keys": [{"name", "role", "sha256", "pools"?, "tools"?, "rate_limits"?,
 * "created_at"}]}}. It holds each key's SHA-256, never the key: a key is 256 random bits, so a plain hash
 * cannot be reversed or guessed, and checking one costs a microsecond. {@code snakepit keys add} writes it;
 * the node reads it and reloads it when it changes.
 */
public final class KeysFile {

  /** Every key starts so, which tells a key from a JWT and makes a leaked one easy to search for. */
  public static final String PREFIX = "sp_";
  private static final SecureRandom RANDOM = new SecureRandom();

  private KeysFile() {
  }

  /** One key as the file records it. */
  public record Entry(String name, Principal principal, String sha256, String createdAt) {
  }

  /** A new key: {@code sp_} and 43 URL-safe characters (256 random bits). */
  public static String newKey() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** The hex SHA-256 of a key, as stored. */
  public static String hash(String key) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** Parses a keys file's text into its entries by hash; a mistake names the entry and the field. */
  public static Map<String, Entry> parse(String text, String where) {
    JsonObject doc;
    try {
      doc = new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      // Not the parser's message: it quotes the text it stopped at, which a log must not show.
      throw new ConfigException(where + " is not a JSON keys file ({\"keys\": [...]})" + location(e));
    }
    Object keys = doc.getValue("keys");
    if (!(keys instanceof JsonArray array)) {
      throw new ConfigException(where + " must hold {\"keys\": [...]}");
    }
    Map<String, Entry> byHash = new LinkedHashMap<>();
    Set<String> names = new LinkedHashSet<>();
    for (int i = 0; i < array.size(); i++) {
      String at = where + " keys[" + i + "]";
      if (!(array.getValue(i) instanceof JsonObject k)) {
        throw new ConfigException(at + " must be an object");
      }
      String name = k.getValue("name") instanceof String s && !s.isBlank() ? s : null;
      Role role = k.getValue("role") instanceof String s ? Role.parse(s) : null;
      String sha = k.getValue("sha256") instanceof String s && s.matches("[0-9a-f]{64}") ? s : null;
      if (name == null || role == null || sha == null) {
        throw new ConfigException(at + " needs a non-empty 'name', a 'role' (caller, reader, operator, admin) and "
            + "a 'sha256' of 64 hex digits");
      }
      if (!names.add(name)) {
        throw new ConfigException(at + ": the name '" + name + "' is used twice");
      }
      RateLimitSettings limits = k.getValue("rate_limits") instanceof JsonObject o
          ? RateLimitSettings.fromJson(o, at + ".rate_limits") : null;
      Principal p = new Principal(name, role, strings(k, "pools", at), strings(k, "tools", at), limits, "key");
      byHash.put(sha, new Entry(name, p, sha, k.getString("created_at")));
    }
    return byHash;
  }

  private static String location(Exception e) {
    return e.getCause() instanceof com.fasterxml.jackson.core.JsonProcessingException j && j.getLocation() != null
        ? " (line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr() + ")" : "";
  }

  private static Set<String> strings(JsonObject k, String field, String at) {
    Object v = k.getValue(field);
    if (v == null) {
      return Set.of();
    }
    if (!(v instanceof JsonArray a) || a.stream().anyMatch(x -> !(x instanceof String))) {
      throw new ConfigException(at + "." + field + " must be a list of names");
    }
    Set<String> out = new LinkedHashSet<>();
    a.forEach(x -> out.add((String) x));
    return out;
  }

  /** Reads a keys file; an absent one holds no keys. Blocking: not for an event loop. */
  public static JsonObject read(Path file) throws IOException {
    if (!Files.exists(file)) {
      return new JsonObject().put("keys", new JsonArray());
    }
    JsonObject doc = new JsonObject(Files.readString(file, StandardCharsets.UTF_8));
    parse(doc.encode(), file.toString());
    return doc;
  }

  /** The file's JSON entry for a new key. */
  public static JsonObject entry(String name, Role role, String key, Set<String> pools, Set<String> tools) {
    JsonObject e = new JsonObject().put("name", name).put("role", role.wireName()).put("sha256", hash(key));
    if (!pools.isEmpty()) {
      e.put("pools", new JsonArray(pools.stream().toList()));
    }
    if (!tools.isEmpty()) {
      e.put("tools", new JsonArray(tools.stream().toList()));
    }
    return e.put("created_at", Instant.now().toString());
  }

  /**
   * Writes the file whole, readable by its owner only, through a temporary file moved into place, so a node
   * reloading it never reads half a file. Blocking.
   */
  public static void write(Path file, JsonObject doc) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, ".keys", ".tmp");
    try {
      try {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      } catch (UnsupportedOperationException notPosix) {
        // a file system without POSIX permissions: its own rules apply
      }
      Files.writeString(tmp, doc.encodePrettily() + "\n", StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
