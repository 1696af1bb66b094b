package io.snakepit.session.hazelcast;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import io.snakepit.session.fencing.OwnershipLease;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a member's {@link OwnershipLease}: ticks it on a thread of its own
 * (an event loop may be busy; a late tick only fences too early, never too
 * late), and, while the lease is suspect, confirms it with a
 * {@link LeaseProbe} round trip to every member it sees.
 *
 * <p>The lease is in the member's user context under {@link #USER_CONTEXT_KEY},
 * where the entry processors that run on a partition's primary find it
 * ({@link Processors}).
 */
final class LeaseKeeper implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

  /** Where the lease sits in {@link HazelcastInstance#getUserContext()}. */
  static final String USER_CONTEXT_KEY = "snakepit.fencing.lease";
  static final String EXECUTOR = "snakepit-fencing";

  private final HazelcastInstance hz;
  private final OwnershipLease lease;
  private final long leaseMs;
  private final long tickMs;
  private final long probeTimeoutMs;
  private final ScheduledExecutorService thread;

  LeaseKeeper(HazelcastInstance hz, FencingSettings settings) {
    this.hz = hz;
    this.lease = new OwnershipLease(TimeUnit.MILLISECONDS.toNanos(settings.leaseMs()),
        TimeUnit.MILLISECONDS.toNanos(settings.rejoinTimeoutMs()), System::nanoTime);
    this.leaseMs = settings.leaseMs();
    this.tickMs = Math.max(10, settings.leaseMs() / 10);
    // The whole round must end well inside one lease, which starts at the round's start.
    this.probeTimeoutMs = Math.max(50, settings.leaseMs() / 3);
    this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "snakepit-lease-" + hz.getName());
      t.setDaemon(true);
      return t;
    });
  }

  OwnershipLease lease() {
    return lease;
  }

  /** Publishes the lease in the member's user context and starts ticking. */
  LeaseKeeper start() {
    hz.getUserContext().put(USER_CONTEXT_KEY, lease);
    thread.scheduleWithFixedDelay(this::tick, tickMs, tickMs, TimeUnit.MILLISECONDS);
    return this;
  }

  private void tick() {
    try {
      Map<String, Member> others = others();
      if (lease.tick(others.keySet())) {
        LOG.warn("This node was paused (no lease tick for over {} ms): it refuses session writes with not_owner "
            + "until its cluster confirms it is still a member; {}", leaseMs, lease);
      }
      if (lease.suspect()) {
        confirm(others);
      }
    } catch (RuntimeException e) {
      // A member that is shutting down; the next tick tries again, and meanwhile the lease only lapses.
      LOG.debug("Lease tick failed: {}", e.toString());
    }
  }

  /** Every other member by address: stable across a merge, unlike member UUIDs. */
  private Map<String, Member> others() {
    Map<String, Member> out = new LinkedHashMap<>();
    if (!hz.getLifecycleService().isRunning()) {
      return out;
    }
    for (Member m : hz.getCluster().getMembers()) {
      if (!m.localMember()) {
        out.put(m.getAddress().toString(), m);
      }
    }
    return out;
  }

  /** One confirmation round: every member the node sees must run a probe sent after the round began. */
  private void confirm(Map<String, Member> others) {
    long started = lease.now();
    IExecutorService executor = hz.getExecutorService(EXECUTOR);
    List<Future<Boolean>> answers = new ArrayList<>();
    for (Member m : others.values()) {
      answers.add(executor.submitToMember(new LeaseProbe(), m));
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(probeTimeoutMs);
    for (Future<Boolean> answer : answers) {
      try {
        answer.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        // Dropped by that member (CallerNotMemberException), or it does not answer: still suspect.
        answers.forEach(a -> a.cancel(true));
        LOG.debug("Lease confirmation failed: {}", e.toString());
        return;
      }
    }
    if (lease.confirmed(started, others.keySet())) {
      LOG.info("The cluster confirmed this node as a member ({}): it holds its sessions' ownership lease again; "
          + "lease {}", others.isEmpty() ? "no other members" : String.join(", ", others.keySet()), lease);
    }
  }

  @Override
  public void close() {
    thread.shutdownNow();
    hz.getUserContext().remove(USER_CONTEXT_KEY, lease);
  }
}
