package io.snakepit.session.hazelcast;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The compliance kit on one member. */
class HazelcastOneMemberComplianceTest extends HazelcastComplianceSupport {

  private static TestCluster cluster;

  @BeforeAll
  static void startMembers() {
    cluster = startCluster(1);
  }

  @AfterAll
  static void stopMembers() {
    cluster.close();
  }

  @Override
  TestCluster cluster() {
    return cluster;
  }
}
