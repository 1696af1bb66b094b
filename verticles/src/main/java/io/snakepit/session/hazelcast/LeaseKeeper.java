package io.snakepit.session.hazelcast;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import com.hazelcast.core.LifecycleEvent;
import com.hazelcast.core.LifecycleEvent.LifecycleState;
import com.hazelcast.internal.cluster.impl.ClusterServiceImpl;
import io.snakepit.session.fencing.OwnershipLease;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToIntFunction;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a member's {@link OwnershipLease}: ticks it on a thread of its own
 * (an event loop may be busy; a late tick only fences too early, never too
 * late), and, while the lease is suspect, confirms it with a
 * {@link LeaseProbe} round trip to every data member it sees.
 *
 * <p>Only data members count: a lite member (an application that joined the
 * cluster) holds no sessions, so its view of the paused node says nothing
 * about whose copies are current. A member that is merging after a split
 * (between Hazelcast's {@code MERGING} and {@code MERGED} lifecycle events)
 * does not confirm, nor does this node while it merges itself.
 *
 * <p>With {@code partition-mode: majority} ({@link #requireMajority}) the lease is also renewed by hearing from the
 * cluster: a node that sees a majority of members but has heard from fewer than a majority of them (itself
 * included) within the lease, by Hazelcast's heartbeats or its own probes, voids its lease as a pause would. A
 * node cut off from the majority thus stops acknowledging writes one lease (2.5 s) after the cut, before the
 * majority's failure detection (5 s) drops it and promotes the backups of its sessions; before, the minority
 * acknowledged increments in that window that the majority never saw ({@code tests/chaos.sh --seed 11
 * --majority}).
 *
 * <p>The lease is in the member's user context under {@link #USER_CONTEXT_KEY},
 * where the entry processors that run on a partition's primary find it
 * ({@link Processors}).
 */
final class LeaseKeeper implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

  /** Where the lease sits in {@link HazelcastInstance#getUserContext()}. */
  static final String USER_CONTEXT_KEY = "snakepit.fencing.lease";
  /** The keeper itself, in the member's user context, for a second store of the member ({@link #running}). */
  static final String KEEPER_KEY = "snakepit.fencing.keeper";
  /** The stores using this keeper; the last to {@link #release} it closes it. */
  private final java.util.concurrent.atomic.AtomicInteger users = new java.util.concurrent.atomic.AtomicInteger(1);
  static final String EXECUTOR = "snakepit-fencing";
  /** Where a member's merge state sits in its user context: an {@link AtomicBoolean}, true while it merges. */
  static final String MERGING_KEY = "snakepit.fencing.merging";
  /** Until {@link #start} finds the member's heartbeat manager: never heard. */
  private static final ToLongFunction<Member> DEFAULT_HEARTBEAT = m -> 0;

  private final HazelcastInstance hz;
  private final OwnershipLease lease;
  private final long leaseMs;
  private final long tickMs;
  private final long probeTimeoutMs;
  private final ScheduledExecutorService thread;
  private final AtomicBoolean merging = new AtomicBoolean();
  private final AtomicLong rounds = new AtomicLong();
  private UUID lifecycleListener;
  /** The majority of the full cluster, counting this member; 0 when the lease does not need to hear from one. */
  private volatile int majority;
  /** When a member was last heard from, in cluster time: its latest heartbeat here, or 0 when unknown. */
  private volatile ToLongFunction<Member> lastHeartbeat = DEFAULT_HEARTBEAT;
  /** Cluster time at the start of the last probe round each member (by address) answered. */
  private final Map<String, Long> probed = new ConcurrentHashMap<>();
  private volatile ToIntFunction<Map<String, Member>> prober = this::probeNow;
  private final AtomicLong ticks = new AtomicLong();

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

  /** Whether {@code hz}'s member is merging into another cluster after a split, as far as its keeper knows. */
  static boolean merging(HazelcastInstance hz) {
    return hz.getUserContext().get(MERGING_KEY) instanceof AtomicBoolean m && m.get();
  }

  /** Confirmation rounds run so far (for tests: a round that did not confirm still counts). */
  long rounds() {
    return rounds.get();
  }

  /**
   * Makes the lease need to hear from {@code majority} members (this one included) within the lease, whenever the
   * member sees at least that many ({@code partition-mode: majority}; see the class comment).
   */
  void requireMajority(int majority) {
    this.majority = majority;
  }

  /**
   * For tests: where the keeper reads when it last heard from a member (cluster time), and how it probes members
   * it has not heard from (returns how many answered); together they stand for a network cut.
   */
  void hearing(ToLongFunction<Member> lastHeartbeat, ToIntFunction<Map<String, Member>> prober) {
    this.lastHeartbeat = lastHeartbeat;
    this.prober = prober;
  }

  /** Ticks run so far (for tests). */
  long ticks() {
    return ticks.get();
  }

  /**
   * The keeper already running on {@code hz}, taken for one more store (two stores of the member are open at once
   * during a live migration between two maps); null when there is none. Each taker {@link #release}s it.
   */
  static LeaseKeeper running(HazelcastInstance hz) {
    if (hz.getUserContext().get(KEEPER_KEY) instanceof LeaseKeeper k) {
      int n;
      do {
        n = k.users.get();
        if (n == 0) {
          return null; // closing
        }
      } while (!k.users.compareAndSet(n, n + 1));
      return k;
    }
    return null;
  }

  /** One store is done with the lease: the last one stops it ({@link #close}). */
  void release() {
    if (users.decrementAndGet() == 0) {
      close();
    }
  }

  /** Publishes the lease in the member's user context and starts ticking. */
  LeaseKeeper start() {
    hz.getUserContext().put(KEEPER_KEY, this);
    hz.getUserContext().put(USER_CONTEXT_KEY, lease);
    hz.getUserContext().put(MERGING_KEY, merging);
    lifecycleListener = hz.getLifecycleService().addLifecycleListener(this::onLifecycle);
    if (hz.getCluster() instanceof ClusterServiceImpl cs && lastHeartbeat == DEFAULT_HEARTBEAT) {
      // Internal, but it is what Hazelcast's own failure detector reads: no traffic of ours on top.
      lastHeartbeat = m -> cs.getClusterHeartbeatManager().getLastHeartbeatTime(m);
    }
    thread.scheduleWithFixedDelay(this::tick, tickMs, tickMs, TimeUnit.MILLISECONDS);
    return this;
  }

  private void onLifecycle(LifecycleEvent event) {
    LifecycleState state = event.getState();
    if (state == LifecycleState.MERGING) {
      merging.set(true);
    } else if (state == LifecycleState.MERGED || state == LifecycleState.MERGE_FAILED) {
      merging.set(false);
    }
  }

  private void tick() {
    try {
      Map<String, Member> others = others();
      if (lease.tick(others.keySet())) {
        LOG.warn("This node was paused (no lease tick for over {} ms): it refuses session writes with not_owner "
            + "until its cluster confirms it is still a member; {}", leaseMs, lease);
      }
      ticks.incrementAndGet();
      int needed = majority;
      if (needed > 0 && !lease.suspect() && 1 + others.size() >= needed) {
        int heard = 1 + heardRecently(others);
        if (heard < needed) {
          // Heartbeats may be sparser than the lease (Hazelcast's default interval is 5 s): ask the others now.
          heard = 1 + prober.applyAsInt(others);
        }
        if (heard < needed) {
          lease.voidNow();
          LOG.warn("This node sees {} members but heard from only {} of them, itself included, within {} ms, fewer "
              + "than a majority ({}): it may be cut off from the majority, so it refuses session writes with "
              + "not_owner until they answer again; {}", 1 + others.size(), heard, leaseMs, needed, lease);
        }
      }
      if (lease.suspect() && !merging.get()) {
        confirm(others);
      }
    } catch (RuntimeException e) {
      // A member that is shutting down; the next tick tries again, and meanwhile the lease only lapses.
      LOG.debug("Lease tick failed: {}", e.toString());
    }
  }

  /** How many of {@code others} this member heard from within the lease: a heartbeat, or a probe it answered. */
  private int heardRecently(Map<String, Member> others) {
    long now = hz.getCluster().getClusterTime();
    int heard = 0;
    for (Map.Entry<String, Member> e : others.entrySet()) {
      long last = Math.max(lastHeartbeat.applyAsLong(e.getValue()), probed.getOrDefault(e.getKey(), 0L));
      if (now - last <= leaseMs) {
        heard++;
      }
    }
    return heard;
  }

  /** Probes {@code others} once (see {@link #probeRound}) and returns how many answered. */
  private int probeNow(Map<String, Member> others) {
    return probeRound(others).size();
  }

  /**
   * One probe round: every member in {@code others} is sent a {@link LeaseProbe}, and the answers that arrive
   * within the probe timeout are returned by address (true: it counts this node as a member and is not merging;
   * false: it is merging after a split). Each member that answered is recorded as heard; one that did not
   * (dropped this node, with {@code CallerNotMemberException}, or unreachable) is left out.
   */
  private Map<String, Boolean> probeRound(Map<String, Member> others) {
    long startedInClusterTime = hz.getCluster().getClusterTime();
    IExecutorService executor = hz.getExecutorService(EXECUTOR);
    Map<String, Future<Boolean>> pending = new LinkedHashMap<>();
    others.forEach((address, m) -> pending.put(address, executor.submitToMember(new LeaseProbe(), m)));
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(probeTimeoutMs);
    Map<String, Boolean> answers = new LinkedHashMap<>();
    for (Map.Entry<String, Future<Boolean>> e : pending.entrySet()) {
      try {
        answers.put(e.getKey(), Boolean.TRUE.equals(
            e.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)));
        probed.put(e.getKey(), startedInClusterTime);
      } catch (Exception ex) {
        e.getValue().cancel(true);
        LOG.debug("Lease probe of {} failed: {}", e.getKey(), ex.toString());
      }
    }
    return answers;
  }

  /** Every other data member by address: stable across a merge, unlike member UUIDs. */
  private Map<String, Member> others() {
    Map<String, Member> out = new LinkedHashMap<>();
    if (!hz.getLifecycleService().isRunning()) {
      return out;
    }
    for (Member m : hz.getCluster().getMembers()) {
      if (!m.localMember() && !m.isLiteMember()) {
        out.put(m.getAddress().toString(), m);
      }
    }
    return out;
  }

  /**
   * One confirmation round: every data member the node sees must run a probe
   * sent after the round began, and none of them may be merging.
   */
  private void confirm(Map<String, Member> others) {
    rounds.incrementAndGet();
    long started = lease.now();
    Map<String, Boolean> answers = probeRound(others);
    if (answers.size() < others.size()) {
      // Dropped by a member (CallerNotMemberException), or one does not answer: still suspect.
      LOG.debug("Lease confirmation failed: {} of {} members answered", answers.size(), others.size());
      return;
    }
    if (answers.containsValue(Boolean.FALSE)) {
      // A member mid-merge: its newer copies have not reached this node's partitions yet.
      LOG.debug("Lease confirmation deferred: a member is merging after a split");
      return;
    }
    if (lease.confirmed(started, others.keySet())) {
      LOG.info("The cluster confirmed this node as a member ({}): it holds its sessions' ownership lease again; "
          + "lease {}", others.isEmpty() ? "no other members" : String.join(", ", others.keySet()), lease);
    }
  }

  @Override
  public void close() {
    users.set(0);
    hz.getUserContext().remove(KEEPER_KEY, this);
    thread.shutdownNow();
    hz.getUserContext().remove(USER_CONTEXT_KEY, lease);
    hz.getUserContext().remove(MERGING_KEY, merging);
    if (lifecycleListener != null) {
      try {
        hz.getLifecycleService().removeLifecycleListener(lifecycleListener);
      } catch (RuntimeException e) {
        // The member is shutting down: its listeners go with it.
      }
    }
  }
}
