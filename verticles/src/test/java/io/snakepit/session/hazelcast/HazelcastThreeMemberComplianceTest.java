package io.snakepit.session.hazelcast;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The compliance kit on three members, each store on the next member. */
class HazelcastThreeMemberComplianceTest extends HazelcastComplianceSupport {

  private static TestCluster cluster;

  @BeforeAll
  static void startMembers() {
    cluster = startCluster(3);
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
