package io.snakepit.session.sealing;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Seals one JSON value of a session entry with AES-256-GCM, and opens it again.
 *
 * <p>A sealed value is a JSON string {@code "$sp1:KEYID:BASE64URL"}, where the
 * Base64 (URL alphabet, no padding) holds a random 96-bit nonce, then the
 * ciphertext of the value's JSON text and the 128-bit tag. A string keeps it a
 * plain JSON value, so every store and every entry processor carries it as it
 * carries any value, without the key.
 *
 * <p>The additional authenticated data binds the ciphertext to what it is: the
 * format, the key id, the session id, the entry's kind (variable, program,
 * metadata) and its name. A sealed value moved to another session, kind or
 * name, a changed byte, a forged value and an unknown key id all fail to open
 * with {@code integrity_failed}, and are logged (never with a value).
 */
public final class ValueSealer {

  private static final Logger LOG = LoggerFactory.getLogger(ValueSealer.class);
  /** What every sealed value starts with; the version of this format. */
  public static final String PREFIX = "$sp1:";
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;
  /** Bytes a sealed value holds besides its plaintext: nonce and tag. */
  private static final int OVERHEAD = NONCE_BYTES + TAG_BITS / 8;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final ThreadLocal<Cipher> CIPHER = ThreadLocal.withInitial(() -> {
    try {
      return Cipher.getInstance("AES/GCM/NoPadding");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM offers no AES/GCM", e);
    }
  });

  /** The kinds of entry a session holds; each kind's values are bound to it. */
  public enum Kind {
    VARIABLE("variable"), PROGRAM("program"), METADATA("metadata");

    private final String wire;

    Kind(String wire) {
      this.wire = wire;
    }

    /** The kind's name in the AAD, errors and logs. */
    public String wire() {
      return wire;
    }
  }

  private ValueSealer() {
  }

  /** Whether {@code value} has the form of a sealed value (it may still fail to open). */
  public static boolean isSealed(Object value) {
    return value instanceof String s && s.startsWith(PREFIX);
  }

  /** The key id a sealed value names, or null when {@code value} is not one. */
  public static String keyIdOf(Object value) {
    if (!isSealed(value)) {
      return null;
    }
    String s = (String) value;
    int colon = s.indexOf(':', PREFIX.length());
    return colon < 0 ? null : s.substring(PREFIX.length(), colon);
  }

  /**
   * The size of the JSON text a well-formed sealed value holds, computed from its length alone, or -1 when
   * {@code text} is not one. Limits count this instead of the sealed form, so that a value fits the same
   * {@code max-*-bytes} sealed as in clear.
   */
  public static int plainSize(String text) {
    if (!text.startsWith(PREFIX)) {
      return -1;
    }
    int colon = text.indexOf(':', PREFIX.length());
    if (colon < 0) {
      return -1;
    }
    int b64 = text.length() - colon - 1;
    int bytes = b64 / 4 * 3 + (b64 % 4 == 0 ? 0 : b64 % 4 - 1);
    // minus nonce and tag, and minus the two brackets of the JSON array the value is written in
    int size = bytes - OVERHEAD - 2;
    return size < 0 ? -1 : size;
  }

  /** Seals {@code value} (any JSON value, null included) with the ring's active key. */
  public static String seal(DataKeyRing ring, String sessionId, Kind kind, String name, Object value) {
    String keyId = ring.activeId();
    byte[] plain = new JsonArray().add(value).encode().getBytes(StandardCharsets.UTF_8);
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    try {
      Cipher c = CIPHER.get();
      c.init(Cipher.ENCRYPT_MODE, ring.active(), new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(aad(keyId, sessionId, kind, name));
      byte[] out = new byte[NONCE_BYTES + c.getOutputSize(plain.length)];
      System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
      c.doFinal(plain, 0, plain.length, out, NONCE_BYTES);
      return PREFIX + keyId + ":" + Base64.getUrlEncoder().withoutPadding().encodeToString(out);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM failed to seal", e);
    }
  }

  /**
   * Opens a sealed value of entry {@code name} of kind {@code kind} in session {@code sessionId}.
   *
   * @throws SnakepitException {@code integrity_failed} when it is not a sealed value, names a key the ring
   *                           lacks, or fails authentication (tampered, forged, or moved from another entry)
   */
  public static Object open(DataKeyRing ring, String sessionId, Kind kind, String name, Object sealed) {
    String keyId = keyIdOf(sealed);
    if (keyId == null) {
      throw refused(sessionId, kind, name, null, "it is not sealed (a value in clear, which no node writes "
          + "while encryption is on)");
    }
    SecretKey key = ring.key(keyId);
    if (key == null) {
      throw refused(sessionId, kind, name, keyId, "it is sealed with key '" + keyId
          + "', which the key file does not hold (keys: " + ring.ids() + ")");
    }
    byte[] raw;
    try {
      raw = Base64.getUrlDecoder().decode(((String) sealed).substring(PREFIX.length() + keyId.length() + 1));
    } catch (IllegalArgumentException e) {
      throw refused(sessionId, kind, name, keyId, "its ciphertext is not valid Base64");
    }
    if (raw.length < OVERHEAD) {
      throw refused(sessionId, kind, name, keyId, "its ciphertext is too short");
    }
    byte[] plain;
    try {
      Cipher c = CIPHER.get();
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, raw, 0, NONCE_BYTES));
      c.updateAAD(aad(keyId, sessionId, kind, name));
      plain = c.doFinal(raw, NONCE_BYTES, raw.length - NONCE_BYTES);
    } catch (AEADBadTagException e) {
      throw refused(sessionId, kind, name, keyId, "it fails authentication (tampered with, forged, or moved "
          + "from another session or entry)");
    } catch (GeneralSecurityException e) {
      throw refused(sessionId, kind, name, keyId, "it does not decrypt: " + e.getClass().getSimpleName());
    }
    try {
      return new JsonArray(new String(plain, StandardCharsets.UTF_8)).getValue(0);
    } catch (RuntimeException e) {
      throw refused(sessionId, kind, name, keyId, "its plaintext is not the JSON a node seals");
    }
  }

  /** Length-prefixed fields, so that no choice of names can make two different entries' AADs equal. */
  private static byte[] aad(String keyId, String sessionId, Kind kind, String name) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(64);
    for (String part : new String[] {PREFIX, keyId, sessionId, kind.wire(), name}) {
      byte[] b = part.getBytes(StandardCharsets.UTF_8);
      out.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
      out.writeBytes(b);
    }
    return out.toByteArray();
  }

  private static SnakepitException refused(String sessionId, Kind kind, String name, String keyId, String why) {
    LOG.warn("Refused a stored entry of session '{}' ({} '{}', key {}): {}; it was not served", sessionId,
        kind.wire(), name, keyId, why);
    JsonObject details = new JsonObject().put("session_id", sessionId).put("kind", kind.wire()).put("name", name);
    if (keyId != null) {
      details.put("key_id", keyId);
    }
    return new SnakepitException(ErrorCode.INTEGRITY_FAILED, "The stored " + kind.wire() + " '" + name
        + "' of session '" + sessionId + "' was refused: " + why + ". " + ErrorCode.INTEGRITY_FAILED.hint(), null,
        details);
  }
}
