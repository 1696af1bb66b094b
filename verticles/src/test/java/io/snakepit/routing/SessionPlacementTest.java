package io.snakepit.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The owner rule: the primary's node while it is in the ring, else the ring's choice. */
class SessionPlacementTest {

  final HashRing ring = HashRing.of(Map.of("n1", 4, "n2", 4));

  @Test
  void thePrimarysNodeOwnsWhileItIsInTheRing() {
    SessionPlacement onN2 = id -> "n2";
    for (int i = 0; i < 100; i++) {
      assertThat(SessionPlacement.owner(onN2, ring, "s" + i)).isEqualTo("n2");
    }
  }

  @Test
  void aPrimaryOutOfTheRingOrUnknownLeavesTheChoiceToTheRing() {
    SessionPlacement draining = id -> "n3";
    SessionPlacement unknown = id -> null;
    for (int i = 0; i < 100; i++) {
      String id = "s" + i;
      assertThat(SessionPlacement.owner(draining, ring, id)).isEqualTo(ring.owner(id));
      assertThat(SessionPlacement.owner(unknown, ring, id)).isEqualTo(ring.owner(id));
      assertThat(SessionPlacement.owner(null, ring, id)).isEqualTo(ring.owner(id));
    }
  }
}
