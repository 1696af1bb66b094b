package io.snakepit.tests.fuzz;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

/**
 * Seeded generators of hostile input: strings with control characters, surrogates, path tricks and
 * huge lengths; JSON values of every type, nested deep; mutations of valid JSON text; raw bytes. One
 * instance per fuzzer thread, so that a seed replays the same inputs.
 */
final class RandomInput {

  private static final List<String> NASTY = List.of("", " ", "..", "../..", "%2e%2e%2f", "%00", "\u0000",
      "\r\n", "\\", "'", "\"", "${jndi:ldap://x}", "<script>", "null", "true", "-1", "0", "1e309",
      "9223372036854775808", "NaN", "\ud800", "\uffff", "💥", "a".repeat(300), "/", "?", "#", "%", "%zz",
      "__snakepit_state__", "*", "{}", "[]");

  private final Random random;

  RandomInput(long seed) {
    this.random = new Random(seed);
  }

  Random random() {
    return random;
  }

  int below(int n) {
    return random.nextInt(n);
  }

  boolean chance(double p) {
    return random.nextDouble() < p;
  }

  <T> T pick(List<T> from) {
    return from.get(random.nextInt(from.size()));
  }

  /** A string that a parser, a path or a store key may choke on. */
  String nastyString() {
    return switch (random.nextInt(6)) {
      case 0 -> pick(NASTY);
      case 1 -> asciiString(random.nextInt(40));
      case 2 -> unicodeString(random.nextInt(20));
      case 3 -> "x".repeat(random.nextInt(70_000));
      default -> pick(NASTY) + asciiString(random.nextInt(8)) + pick(NASTY);
    };
  }

  String asciiString(int length) {
    StringBuilder b = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      b.append((char) random.nextInt(128));
    }
    return b.toString();
  }

  String unicodeString(int length) {
    StringBuilder b = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      b.append((char) random.nextInt(0x10000));
    }
    return b.toString();
  }

  /** A JSON value of any type, nested up to {@code depth}. */
  Object jsonValue(int depth) {
    int kind = random.nextInt(depth <= 0 ? 6 : 8);
    return switch (kind) {
      case 0 -> null;
      case 1 -> random.nextBoolean();
      case 2 -> pick(List.of(0, -1, Integer.MAX_VALUE, Long.MIN_VALUE, random.nextLong()));
      case 3 -> pick(List.of(0.5, -0.0, Double.MAX_VALUE, Double.MIN_VALUE, random.nextGaussian()));
      case 4, 5 -> chance(0.9) ? pick(NASTY) : nastyString();
      case 6 -> jsonObject(depth - 1);
      default -> jsonArray(depth - 1);
    };
  }

  JsonObject jsonObject(int depth) {
    JsonObject o = new JsonObject();
    int n = random.nextInt(5);
    for (int i = 0; i < n; i++) {
      o.put(chance(0.7) ? pick(List.of("tool", "args", "pool", "timeout_ms", "session_id", "value", "ttl_s",
          "metadata", "name", "code", "affinity", "id", "ops", "sink", "credit", "control")) : pick(NASTY),
          jsonValue(depth));
    }
    return o;
  }

  JsonArray jsonArray(int depth) {
    JsonArray a = new JsonArray();
    int n = random.nextInt(4);
    for (int i = 0; i < n; i++) {
      a.add(jsonValue(depth));
    }
    return a;
  }

  /** JSON nested so deep that a recursive parser would overflow its stack. */
  String deepJson() {
    int depth = 1_000 + random.nextInt(20_000);
    return "[".repeat(depth) + "]".repeat(chance(0.5) ? depth : depth / 2);
  }

  /** Valid JSON text with a few bytes flipped, cut or repeated. */
  byte[] mutate(byte[] valid) {
    byte[] out = valid.clone();
    int edits = 1 + random.nextInt(4);
    for (int e = 0; e < edits && out.length > 0; e++) {
      switch (random.nextInt(4)) {
        case 0 -> out[random.nextInt(out.length)] = (byte) random.nextInt(256);
        case 1 -> out = java.util.Arrays.copyOf(out, random.nextInt(out.length));
        case 2 -> {
          int at = random.nextInt(out.length);
          byte[] longer = java.util.Arrays.copyOf(out, out.length + 1);
          System.arraycopy(out, at, longer, at + 1, out.length - at);
          longer[at] = (byte) "{}[]\",:\\".charAt(random.nextInt(8));
          out = longer;
        }
        default -> {
          // Nothing: an unmutated valid body is a useful input too.
        }
      }
    }
    return out;
  }

  byte[] bytes(int max) {
    byte[] b = new byte[random.nextInt(max + 1)];
    random.nextBytes(b);
    return b;
  }

  /** A body for a JSON route: a random object, a mutated one, deep nesting, bytes, or nothing. */
  byte[] jsonBody() {
    return switch (random.nextInt(7)) {
      case 0 -> new byte[0];
      case 1 -> bytes(512);
      case 2 -> deepJson().getBytes(StandardCharsets.UTF_8);
      case 3 -> mutate(jsonObject(3).encode().getBytes(StandardCharsets.UTF_8));
      case 4 -> String.valueOf(jsonValue(2)).getBytes(StandardCharsets.UTF_8);
      default -> jsonObject(3).encode().getBytes(StandardCharsets.UTF_8);
    };
  }
}
