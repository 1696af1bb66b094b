package io.snakepit.session.hazelcast;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import java.util.concurrent.Callable;

/**
 * The round trip that confirms a suspect lease ({@link LeaseKeeper}): it does
 * nothing, and what matters is that it ran. A member runs an operation only
 * for a caller it counts as a member (Hazelcast answers any other with
 * {@code CallerNotMemberException}), so an answer proves that the member had
 * not dropped this node when the probe reached it.
 */
public final class LeaseProbe implements Callable<Boolean>, IdentifiedDataSerializable {

  @Override
  public Boolean call() {
    return Boolean.TRUE;
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
