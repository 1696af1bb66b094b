package io.snakepit.session.hazelcast;

/** The contract on a single member. */
class OneMemberStoreTest extends StoreContractTest {
  @Override
  int members() {
    return 1;
  }
}
