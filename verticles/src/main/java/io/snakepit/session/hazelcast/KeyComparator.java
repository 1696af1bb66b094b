package io.snakepit.session.hazelcast;

import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import java.util.Comparator;
import java.util.Map;

/** Orders map entries by key: the order of {@code list}. Travels to the members with the paging predicate. */
public final class KeyComparator implements Comparator<Map.Entry<String, HazelcastJsonValue>>,
    IdentifiedDataSerializable {

  @Override
  public int compare(Map.Entry<String, HazelcastJsonValue> a, Map.Entry<String, HazelcastJsonValue> b) {
    return a.getKey().compareTo(b.getKey());
  }

  @Override
  public int getFactoryId() {
    return SessionDataSerializableFactory.FACTORY_ID;
  }

  @Override
  public int getClassId() {
    return SessionDataSerializableFactory.KEY_COMPARATOR;
  }

  @Override
  public void writeData(ObjectDataOutput out) {
  }

  @Override
  public void readData(ObjectDataInput in) {
  }
}
