package io.snakepit.session;

import java.security.SecureRandom;
import java.util.Base64;

/** Session ids: validation, and generation of random URL-safe ids. */
public final class SessionIds {

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();

  private SessionIds() {
  }

  /** 1 to 128 characters of {@code [A-Za-z0-9._:-]}. */
  public static boolean isValid(String id) {
    int n = id.length();
    if (n == 0 || n > 128) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = id.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == ':' || c == '-';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** A new random id: 16 random bytes, URL-safe base64 (22 characters); '_' stays valid. */
  public static String generate() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return ENCODER.encodeToString(b);
  }
}
