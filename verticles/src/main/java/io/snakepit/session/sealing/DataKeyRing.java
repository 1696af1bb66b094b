package io.snakepit.session.sealing;

import io.snakepit.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

/**
 * The data keys that seal session entries, read from the key file named by
 * {@code sessions.encryption.key-file}.
 *
 * <p>The file holds one key a line, {@code ID=BASE64}, where {@code ID} is 1-32
 * characters of {@code [A-Za-z0-9._-]} and {@code BASE64} is 32 random bytes
 * (AES-256) in standard Base64; blank lines and lines starting with {@code #}
 * are ignored. The <em>last</em> key is the active one: new writes use it, the
 * others only decrypt. {@code snakepit keys new-data-key --file FILE} appends
 * a fresh key, so appending is how a key is rotated in.
 *
 * <p>Never prints a key: {@link #toString()} names the ids only.
 */
public final class DataKeyRing {

  /** How a key id may look; it is stored in clear beside every sealed entry. */
  public static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9._-]{1,32}");
  static final int KEY_BYTES = 32;

  private final Map<String, SecretKey> keys;
  private final String activeId;

  private DataKeyRing(Map<String, SecretKey> keys, String activeId) {
    this.keys = Collections.unmodifiableMap(keys);
    this.activeId = activeId;
  }

  /** The id of the key that seals new writes. */
  public String activeId() {
    return activeId;
  }

  SecretKey active() {
    return keys.get(activeId);
  }

  /** The key with this id, or null when the ring has none. */
  SecretKey key(String id) {
    return keys.get(id);
  }

  /** The ids of all keys, oldest first. */
  public Set<String> ids() {
    return keys.keySet();
  }

  /**
   * Parses a key file's text.
   *
   * @param source what to name in errors (the file's path)
   * @throws ConfigException naming the line that is wrong; never quoting a key
   */
  public static DataKeyRing parse(String text, String source) {
    Map<String, SecretKey> keys = new LinkedHashMap<>();
    String last = null;
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String where = source + " line " + (i + 1);
      int eq = line.indexOf('=');
      if (eq < 0) {
        throw new ConfigException(where + ": expected ID=BASE64 (a key id, '=', 32 bytes in Base64)");
      }
      String id = line.substring(0, eq).strip();
      if (!KEY_ID.matcher(id).matches()) {
        throw new ConfigException(where + ": the key id must be 1-32 characters of [A-Za-z0-9._-]");
      }
      byte[] raw;
      try {
        raw = Base64.getDecoder().decode(line.substring(eq + 1).strip());
      } catch (IllegalArgumentException e) {
        throw new ConfigException(where + ": key '" + id + "' is not valid Base64");
      }
      if (raw.length != KEY_BYTES) {
        throw new ConfigException(where + ": key '" + id + "' must be " + KEY_BYTES + " bytes (AES-256), got "
            + raw.length + "; make one with 'snakepit keys new-data-key --file FILE'");
      }
      if (keys.containsKey(id)) {
        throw new ConfigException(where + ": key id '" + id + "' appears twice; each key needs its own id");
      }
      keys.put(id, new SecretKeySpec(raw, "AES"));
      last = id;
    }
    if (last == null) {
      throw new ConfigException(source + " holds no key; add one with 'snakepit keys new-data-key --file FILE'");
    }
    return new DataKeyRing(keys, last);
  }

  /** Reads and parses a key file. Blocking: call it off the event loop. */
  public static DataKeyRing load(Path file) {
    try {
      return parse(Files.readString(file, StandardCharsets.UTF_8), "sessions.encryption.key-file " + file);
    } catch (IOException e) {
      throw new ConfigException("sessions.encryption.key-file " + file + " cannot be read: " + e);
    }
  }

  /**
   * Why the file's permissions are too open (readable or writable by group or others), or null when they are
   * fine or the file system has no POSIX permissions.
   */
  public static String permissionProblem(Path file) {
    try {
      Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
      if (p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.GROUP_WRITE)
          || p.contains(PosixFilePermission.OTHERS_READ) || p.contains(PosixFilePermission.OTHERS_WRITE)) {
        return "data-key file " + file + " is readable or writable by group or others ("
            + java.nio.file.attribute.PosixFilePermissions.toString(p) + "); make it owner-only: chmod 600 " + file;
      }
      return null;
    } catch (UnsupportedOperationException | IOException e) {
      return null;
    }
  }

  /**
   * A new key line, {@code ID=BASE64} of 32 bytes from a {@link SecureRandom}, with an id made of the time and a
   * random suffix so that ids sort by age and never repeat.
   */
  public static String newKeyLine(long nowMs) {
    SecureRandom random = new SecureRandom();
    byte[] raw = new byte[KEY_BYTES];
    random.nextBytes(raw);
    String id = "k" + nowMs + "-" + Integer.toString(random.nextInt(36 * 36 * 36), 36);
    return id + "=" + Base64.getEncoder().encodeToString(raw);
  }

  @Override
  public String toString() {
    return "DataKeyRing" + keys.keySet() + " active " + activeId;
  }
}
