package io.snakepit.tests.fuzz;

/**
 * One broken invariant: which door was fuzzed, what was sent (short enough to read, enough to
 * replay with the seed), and what came back instead of a typed client error.
 *
 * @param door    http, grpc, event-bus, worker-frames or vitals
 * @param input   the request, abbreviated
 * @param problem what was wrong with the answer
 */
public record Finding(String door, String input, String problem) {

  @Override
  public String toString() {
    return door + ": " + problem + "\n    sent: " + input;
  }

  /** The first {@code max} characters of {@code s}, with control characters made visible. */
  static String brief(String s, int max) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < max; i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
    }
    return s.length() > max ? b + "... (" + s.length() + " chars)" : b.toString();
  }
}
