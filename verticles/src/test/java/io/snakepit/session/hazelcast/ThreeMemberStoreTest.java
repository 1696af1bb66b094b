package io.snakepit.session.hazelcast;

/** The contract on three members, writes through one store and reads through another. */
class ThreeMemberStoreTest extends StoreContractTest {
  @Override
  int members() {
    return 3;
  }
}
