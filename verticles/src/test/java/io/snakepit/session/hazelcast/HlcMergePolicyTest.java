package io.snakepit.session.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.spi.merge.MergingValue;
import io.snakepit.session.Session;
import io.snakepit.session.Stamped;
import org.junit.jupiter.api.Test;

/** The split-brain merge policy on two diverged copies, with MergingValue test doubles. */
class HlcMergePolicyTest {

  /** Raw value stands in for Hazelcast's serialized Data: a distinct object we can recognise. */
  record Raw(String side) {
  }

  static MergingValue<HazelcastJsonValue> value(Object v, String side) {
    return new MergingValue<>() {
      @Override
      public HazelcastJsonValue getValue() {
        return v instanceof Session s ? StoredSession.encode(s) : (HazelcastJsonValue) v;
      }

      @Override
      public Object getRawValue() {
        return new Raw(side);
      }
    };
  }

  final HlcMergePolicy policy = new HlcMergePolicy();

  /** The policy's answer as a session: a raw value stands for that side's copy. */
  Session merged(Session merging, Session existing) {
    Object out = policy.merge(value(merging, "m"), value(existing, "e"));
    if (out instanceof Raw r) {
      return r.side().equals("m") ? merging : existing;
    }
    return StoredSession.decode(out);
  }

  static Session base() {
    return Session.create("s", 1000, 60_000).withVariable("shared", Stamped.of("base", 10, "n1"));
  }

  @Test
  void divergedCopiesMergePerVariableByHlc() {
    Session left = base().withVariable("shared", Stamped.of("left", 30, "n1"))
        .withVariable("onlyLeft", Stamped.of(1, 20, "n1"));
    Session right = base().withVariable("shared", Stamped.of("right", 25, "n2"))
        .withVariable("onlyRight", Stamped.of(2, 40, "n2")).withVariable("shared2", Stamped.tombstone(41, "n2"));
    Object out = policy.merge(value(left, "merging"), value(right, "existing"));
    Session merged = StoredSession.decode(out);
    assertThat(merged.variable("shared")).isEqualTo("left");
    assertThat(merged.variable("onlyLeft")).isEqualTo(1);
    assertThat(merged.variable("onlyRight")).isEqualTo(2);
    assertThat(merged.variables().get("shared2").deleted()).isTrue();
    assertThat(merged.version()).isGreaterThan(Math.max(left.version(), right.version()));
    // the same result whichever side merges into which (content; versions may differ)
    Session other = StoredSession.decode(policy.merge(value(right, "merging"), value(left, "existing")));
    assertThat(other.variablesJson()).isEqualTo(merged.variablesJson());
  }

  @Test
  void tombstoneWinsOverLaterWrites() {
    Session deleted = base().deleted(15);
    Session written = base().withVariable("x", Stamped.of(1, 99, "n2"));
    assertThat(merged(written, deleted).isDeleted()).isTrue();
    // existing tombstone kept as is: the raw existing value comes back
    assertThat(policy.merge(value(written, "m"), value(deleted, "e"))).isEqualTo(new Raw("e"));
    assertThat(merged(deleted, written).isDeleted()).isTrue();
  }

  @Test
  void rawValuesPassWhenOneSideIsMissingOrUnchanged() {
    assertThat(policy.merge(value(base(), "m"), null)).isEqualTo(new Raw("m"));
    assertThat(policy.merge(null, value(base(), "e"))).isEqualTo(new Raw("e"));
    assertThat(policy.merge(value(base(), "m"), value(base(), "e"))).isEqualTo(new Raw("e"));
    Session newer = base().withVariable("y", Stamped.of(1, 50, "n1"));
    // the existing copy already holds everything: keep it
    assertThat(policy.merge(value(base(), "m"), value(newer, "e"))).isEqualTo(new Raw("e"));
  }

  @Test
  void unreadableSideLoses() {
    HazelcastJsonValue junk = new HazelcastJsonValue("{\"not\":\"a session\"}");
    assertThat(policy.merge(value(junk, "m"), value(base(), "e"))).isEqualTo(new Raw("e"));
    assertThat(policy.merge(value(base(), "m"), value(junk, "e"))).isEqualTo(new Raw("m"));
  }
}
