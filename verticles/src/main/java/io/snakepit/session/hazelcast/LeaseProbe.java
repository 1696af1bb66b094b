package io.snakepit.session.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import java.util.concurrent.Callable;

/**
 * The round trip that confirms a suspect lease ({@link LeaseKeeper}). A
 * member runs an operation only for a caller it counts as a member
 * (Hazelcast answers any other with {@code CallerNotMemberException}), so an
 * answer proves that the member had not dropped this node when the probe
 * reached it.
 *
 * <p>It answers false while its own member is merging after a split
 * ({@link LeaseKeeper#merging}): a member that has just joined the paused
 * node's cluster by a merge counts the node as a member, but its copies of
 * the sessions (newer than the paused node's) reach the node only when its
 * merge tasks have run. Confirmed earlier, the node would serve its stale
 * copies meanwhile.
 */
public final class LeaseProbe implements Callable<Boolean>, IdentifiedDataSerializable, HazelcastInstanceAware {

  private transient HazelcastInstance hz;

  @Override
  public void setHazelcastInstance(HazelcastInstance hazelcastInstance) {
    this.hz = hazelcastInstance;
  }

  @Override
  public Boolean call() {
    return hz == null || !LeaseKeeper.merging(hz);
  }

  @Override
  public int getFactoryId() {
    return SessionDataSerializableFactory.FACTORY_ID;
  }

  @Override
  public int getClassId() {
    return SessionDataSerializableFactory.LEASE_PROBE;
  }

  @Override
  public void writeData(ObjectDataOutput out) {
    // no state
  }

  @Override
  public void readData(ObjectDataInput in) {
    // no state
  }
}
