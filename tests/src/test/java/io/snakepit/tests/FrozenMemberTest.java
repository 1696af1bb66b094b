package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A member frozen with {@code SIGSTOP} must leave the survivors idle and
 * together. On Hazelcast's default (unified) network, a survivor that
 * reconnects to the frozen member, whose kernel still accepts the TCP
 * connection, spun one of its IO threads at full CPU for as long as the
 * freeze lasted (hazelcast/hazelcast#26473): on this 2-core machine the two
 * survivors' spinning threads took both cores, and the other connections
 * served by those threads missed heartbeats, so the survivors sometimes
 * split from one another. Nodes now use Hazelcast's advanced network, whose
 * member endpoint waits instead.
 *
 * <p>What is asserted: while the member is frozen (and nothing else runs),
 * no thread of a survivor uses more than {@link #MAX_THREAD_SHARE} of a core
 * over the window, and no survivor suspects the other. Per-thread CPU comes
 * from {@code /proc/PID/task/TID/stat}; the window is a measurement, not a
 * wait for an event.
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class FrozenMemberTest {

  static final Duration DEADLINE = Duration.ofSeconds(90);
  /** How long survivors' threads are measured once they dropped the frozen member. */
  static final Duration WINDOW = Duration.ofSeconds(25);
  /** The largest share of one core a survivor's thread may use over the window: a spin uses most of one. */
  static final double MAX_THREAD_SHARE = 0.4;
  /** Linux's USER_HZ, the unit of /proc's CPU times; 100 on every kernel configuration this runs on. */
  static final long TICKS_PER_SECOND = 100;

  @Test
  void aFrozenMemberLeavesTheSurvivorsIdleAndTogether() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      NodeProcess frozen = c.node(2);
      List<NodeProcess> survivors = List.of(c.node(0), c.node(1));
      c.awaitSafe();
      frozen.signal("STOP");
      try {
        for (NodeProcess n : survivors) {
          Poll.until(n.nodeId() + " drops the frozen node", DEADLINE,
              () -> !Cluster.ring(n).contains(frozen.nodeId()));
        }
        Map<NodeProcess, Map<String, Long>> before = new HashMap<>();
        for (NodeProcess n : survivors) {
          before.put(n, threadTicks(n.pid()));
        }
        long start = System.nanoTime();
        long end = start + WINDOW.toNanos();
        while (System.nanoTime() < end) {
          // Measuring over a window of wall time; nothing here waits for an event.
          Thread.sleep(Math.max(1, Math.min(1000, (end - System.nanoTime()) / 1_000_000)));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        for (NodeProcess n : survivors) {
          Map<String, Long> after = threadTicks(n.pid());
          String busiest = null;
          long most = 0;
          for (Map.Entry<String, Long> t : after.entrySet()) {
            long used = t.getValue() - before.get(n).getOrDefault(t.getKey(), 0L);
            if (used > most) {
              most = used;
              busiest = t.getKey();
            }
          }
          double share = most / (double) TICKS_PER_SECOND / seconds;
          System.out.printf("FIGURE frozen_member_busiest_thread_share{node=%s} %.3f (%s)%n", n.nodeId(), share,
              busiest);
          assertThat(share).as("the busiest thread of %s (%s) while a member was frozen, share of one core over "
              + "%.0f s", n.nodeId(), busiest, seconds).isLessThan(MAX_THREAD_SHARE);
        }
        assertThat(c.hazelcastSplit(survivors)).as("a survivor suspected the other while a member was frozen")
            .isFalse();
      } finally {
        frozen.signal("CONT");
      }
      c.awaitRing(3);
    }
  }

  /** CPU ticks (user + system) of each thread of a process, by thread id and name. */
  static Map<String, Long> threadTicks(long pid) throws IOException {
    Map<String, Long> out = new HashMap<>();
    try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : tasks.toList()) {
        String stat;
        try {
          stat = Files.readString(task.resolve("stat"));
        } catch (IOException gone) {
          continue; // the thread ended meanwhile
        }
        // pid (comm) state ... : comm may hold spaces, so split after its closing parenthesis.
        int close = stat.lastIndexOf(')');
        String name = stat.substring(stat.indexOf('(') + 1, close);
        String[] f = stat.substring(close + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        out.put(task.getFileName() + " " + name, ticks);
      }
    }
    return out;
  }
}
