package io.snakepit.session.hazelcast;

import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import com.hazelcast.spi.merge.MergingValue;
import com.hazelcast.spi.merge.SplitBrainMergePolicy;
import io.snakepit.session.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Split-brain merge policy of the session map: when a network partition
 * heals, Hazelcast hands each entry of the smaller side (the merging value)
 * together with the larger side's copy (the existing value, or null) to this
 * policy, which merges the two with {@link Session#merge}: per variable,
 * program and metadata entry the last write by hybrid logical clock wins, and
 * a delete of the whole session (a tombstone) wins over any write. Hazelcast's
 * own policies cannot do this: they keep one whole entry and choose it by wall
 * clock ({@code LatestUpdateMergePolicy}), hits or presence, so the writes of
 * one side would be lost.
 *
 * <p>When the merged content differs from the existing copy, its version is
 * raised past both, so that an optimistic update prepared against the old
 * copy fails its compare-and-set and retries instead of overwriting the merge.
 *
 * <p>Returns what Hazelcast's built-in policies return: the raw value (the
 * serialized {@code Data}) of a side when that side is kept unchanged, else a
 * new {@link HazelcastJsonValue}, which the record store serializes itself.
 * A side that cannot be read (not one of our values) loses to one that can;
 * if neither can be read, the existing copy is kept.
 *
 * <p>Set it on the map with {@code MergePolicyConfig#setPolicy(HlcMergePolicy.class.getName())}
 * ({@link HazelcastSessionStoreFactory#mapConfig} does); every member needs
 * {@link SessionDataSerializableFactory} registered, because the policy
 * travels between members inside the merge operations.
 */
public class HlcMergePolicy implements SplitBrainMergePolicy<HazelcastJsonValue, MergingValue<HazelcastJsonValue>,
    Object>, IdentifiedDataSerializable {

  private static final Logger LOG = LoggerFactory.getLogger(HlcMergePolicy.class);

  public HlcMergePolicy() {
  }

  @Override
  public Object merge(MergingValue<HazelcastJsonValue> mergingValue, MergingValue<HazelcastJsonValue> existingValue) {
    if (mergingValue == null) {
      return existingValue == null ? null : existingValue.getRawValue();
    }
    if (existingValue == null) {
      return mergingValue.getRawValue();
    }
    Session merging = read(mergingValue);
    Session existing = read(existingValue);
    if (merging == null) {
      return existingValue.getRawValue();
    }
    if (existing == null) {
      return mergingValue.getRawValue();
    }
    Session merged = merge(merging, existing);
    if (merged.equals(existing)) {
      return existingValue.getRawValue();
    }
    if (merged.equals(merging)) {
      return mergingValue.getRawValue();
    }
    return StoredSession.encode(merged);
  }

  /**
   * The merge of two stored copies: {@link Session#merge}, with the version
   * raised past both when the content differs from the existing copy.
   */
  static Session merge(Session merging, Session existing) {
    Session merged = Session.merge(merging, existing);
    if (!StoredSession.sameContent(merged, existing)) {
      merged = StoredSession.withVersion(merged, Math.max(merging.version(), existing.version()) + 1);
    }
    return merged;
  }

  private static Session read(MergingValue<HazelcastJsonValue> v) {
    try {
      Object value = v.getValue();
      return value == null ? null : StoredSession.decode(value);
    } catch (RuntimeException e) {
      LOG.warn("Split-brain merge: a stored session cannot be read ({}); the other copy is kept", e.toString());
      return null;
    }
  }

  @Override
  public int getFactoryId() {
    return SessionDataSerializableFactory.FACTORY_ID;
  }

  @Override
  public int getClassId() {
    return SessionDataSerializableFactory.MERGE_POLICY;
  }

  @Override
  public void writeData(ObjectDataOutput out) {
  }

  @Override
  public void readData(ObjectDataInput in) {
  }
}
