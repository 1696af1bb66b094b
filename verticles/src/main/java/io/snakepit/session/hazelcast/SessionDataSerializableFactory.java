package io.snakepit.session.hazelcast;

import com.hazelcast.nio.serialization.DataSerializableFactory;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;

/**
 * Makes the adapter's wire objects (entry processors, their outcome, the
 * merge policy, the list comparator). Every member must have it registered in
 * its serialization config under {@link #FACTORY_ID}, before it starts:
 * {@link HazelcastSessionStoreFactory#configure} does that.
 */
public final class SessionDataSerializableFactory implements DataSerializableFactory {

  /** "SNK" in ASCII; positive, so it cannot clash with Hazelcast's own (negative) factory ids. */
  public static final int FACTORY_ID = 0x534E4B;

  static final int OUTCOME = 1;
  static final int CREATE = 2;
  static final int CHANGE = 3;
  static final int TOUCH = 4;
  static final int DELETE = 5;
  static final int MERGE = 6;
  static final int COMPARE_AND_SET = 7;
  static final int READ = 8;
  static final int KEY_COMPARATOR = 9;
  static final int MERGE_POLICY = 10;
  static final int LEASE_PROBE = 11;

  @Override
  public IdentifiedDataSerializable create(int typeId) {
    return switch (typeId) {
      case OUTCOME -> new Outcome();
      case CREATE -> new Processors.Create();
      case CHANGE -> new Processors.Change();
      case TOUCH -> new Processors.Touch();
      case DELETE -> new Processors.Delete();
      case MERGE -> new Processors.Merge();
      case COMPARE_AND_SET -> new Processors.CompareAndSet();
      case READ -> new Processors.Read();
      case KEY_COMPARATOR -> new KeyComparator();
      case MERGE_POLICY -> new HlcMergePolicy();
      case LEASE_PROBE -> new LeaseProbe();
      default -> null;
    };
  }
}
