package io.snakepit.session.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import io.snakepit.session.Session;
import io.snakepit.session.Stamped;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The split journal on real embedded members: it keeps writes only while the
 * cluster is smaller than when it was last whole, writes them back once it is
 * whole again (a member leaving and coming back stands in for a partition and
 * its heal; the loss it guards against needs a real network cut, which
 * tests/chaos.sh's partition runs make), and takes a long-lasting smaller
 * cluster as the new whole.
 */
class SplitJournalTest {

  private TestCluster cluster;
  private Vertx vertx;
  private final List<Session> writtenBack = new CopyOnWriteArrayList<>();
  private final AtomicLong clock = new AtomicLong(1_000_000);

  @BeforeEach
  void setUp() {
    cluster = new TestCluster().start(2, 1);
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() {
    cluster.close();
    TestCluster.get(vertx.close());
  }

  private SplitJournal journal(HazelcastInstance hz) {
    return new SplitJournal(hz, vertx, s -> {
      writtenBack.add(s);
      return Future.succeededFuture();
    }, clock::get).start();
  }

  private static Session session(String id, long version) {
    Session s = Session.create(id, 1, 60_000).withVariable("x", Stamped.of(version, version, "n1"));
    return StoredSession.withVersion(s, version);
  }

  @Test
  void keepsWritesOnlyWhileSplitAndWritesTheNewestBackWhenWholeAgain() {
    HazelcastInstance a = cluster.members.get(0);
    SplitJournal journal = journal(a);
    journal.record(session("before", 2));
    assertThat(journal.size()).as("a whole cluster keeps nothing").isZero();

    cluster.members.get(1).getLifecycleService().terminate();
    TestCluster.await(journal::recording, "the journal notices the smaller cluster");
    journal.record(session("s1", 3));
    journal.record(session("s1", 5));
    journal.record(session("s1", 4)); // completed late: the newer copy stays
    journal.record(session("s2", 2));
    assertThat(journal.size()).isEqualTo(2);
    assertThat(writtenBack).isEmpty();

    cluster.start(cluster.config(1));
    TestCluster.await(() -> writtenBack.size() == 2, "the kept copies written back");
    assertThat(writtenBack).extracting(Session::id).containsExactlyInAnyOrder("s1", "s2");
    assertThat(writtenBack.stream().filter(s -> s.id().equals("s1")).findFirst().orElseThrow().version())
        .isEqualTo(5);
    TestCluster.await(() -> journal.size() == 0, "written copies leave the journal");
    assertThat(journal.recording()).isFalse();
    journal.close();
  }

  @Test
  void aSmallerClusterThatLastsIsTakenAsWhole() {
    SplitJournal journal = journal(cluster.members.get(0));
    cluster.members.get(1).getLifecycleService().terminate();
    TestCluster.await(journal::recording, "the journal notices the smaller cluster");
    journal.record(session("s1", 2));
    clock.addAndGet(SplitJournal.ACCEPT_AFTER_MS + 1);
    // The next membership change after that long (here a lite member joining) makes the smaller cluster whole.
    cluster.start(cluster.config(1).setLiteMember(true));
    TestCluster.await(() -> !journal.recording(), "the smaller cluster taken as whole");
    TestCluster.await(() -> writtenBack.size() == 1, "its copies written back");
    journal.close();
  }
}
