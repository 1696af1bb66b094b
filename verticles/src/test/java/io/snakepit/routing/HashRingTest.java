package io.snakepit.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HashRingTest {

  private static final int KEYS = 20_000;

  private static Map<String, String> owners(HashRing ring) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < KEYS; i++) {
      out.put("session-" + i, ring.owner("session-" + i));
    }
    return out;
  }

  @Test
  void everyNodeBuildsTheSameRingWhateverTheOrderItLearnedMembersIn() {
    Map<String, Integer> a = new LinkedHashMap<>();
    a.put("n1", 4);
    a.put("n2", 4);
    a.put("n3", 4);
    Map<String, Integer> b = new LinkedHashMap<>();
    b.put("n3", 4);
    b.put("n1", 4);
    b.put("n2", 4);
    assertThat(owners(HashRing.of(a))).isEqualTo(owners(HashRing.of(b)));
    assertThat(HashRing.empty().owner("x")).isNull();
  }

  @Test
  void spreadsKeysByCapacity() {
    HashRing ring = HashRing.of(Map.of("small", 1, "big", 3));
    long big = owners(ring).values().stream().filter("big"::equals).count();
    // A quarter versus three quarters, within a generous margin.
    assertThat(big / (double) KEYS).isBetween(0.65, 0.85);
  }

  @Test
  void aJoiningOrLeavingNodeMovesOnlyItsShare() {
    HashRing three = HashRing.of(Map.of("n1", 4, "n2", 4, "n3", 4));
    HashRing four = HashRing.of(Map.of("n1", 4, "n2", 4, "n3", 4, "n4", 4));
    Map<String, String> before = owners(three);
    Map<String, String> after = owners(four);
    long moved = before.keySet().stream().filter(k -> !before.get(k).equals(after.get(k))).count();
    // About 1/4 should move, and every moved key goes to the new node.
    assertThat(moved / (double) KEYS).isBetween(0.18, 0.32);
    before.keySet().stream().filter(k -> !before.get(k).equals(after.get(k)))
        .forEach(k -> assertThat(after.get(k)).isEqualTo("n4"));
    // Leaving: only the leaver's keys move.
    HashRing two = HashRing.of(Map.of("n1", 4, "n3", 4));
    Map<String, String> left = owners(two);
    before.keySet().stream().filter(k -> !before.get(k).equals("n2"))
        .forEach(k -> assertThat(left.get(k)).isEqualTo(before.get(k)));
  }
}
