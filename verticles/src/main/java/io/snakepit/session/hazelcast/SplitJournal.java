package io.snakepit.session.hazelcast;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.LifecycleEvent.LifecycleState;
import io.snakepit.session.Session;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions this node changed while its cluster was split, written again
 * into the cluster once the split has healed, so that no write acknowledged on
 * either side is lost at the merge.
 *
 * <p>Why Hazelcast's own merge is not enough: when the sides merge, the
 * smaller side sends the entries of the partitions its members own to the
 * larger side's owners, where {@link HlcMergePolicy} keeps the newer writes.
 * Entries of partitions whose promotion did not complete on the smaller side
 * ("Cannot commit promotions"), and merge operations that cannot reach their
 * new owner (a bridge partition, where the merging member still cannot see
 * some of the others), are dropped, and with them writes that were
 * acknowledged (tests/chaos.sh --seed 3 lost increments of counter variables
 * so). Each copy kept here is the session as a write on this node left it;
 * it goes back through the store's merge ({@link HazelcastSessionStore#merge},
 * the same per-entry rule), which is idempotent and order-free, so writing
 * it again after the merge can only restore what was dropped.
 *
 * <p>The cluster is split, for this journal, from when it has fewer data
 * members than when it was last whole until it has as many again. A smaller
 * cluster that lasts longer than {@link #ACCEPT_AFTER_MS} is taken as the new
 * whole (a node that was stopped or lost for good; looked at every
 * {@link #CHECK_EVERY_MS} while split); its journal is written back and
 * emptied. At most {@link #MAX_SESSIONS} sessions are kept; past
 * that, the others' writes are left to Hazelcast's merge, and a warning says
 * so. Copies are written back after this member merged into another cluster
 * (Hazelcast's {@code MERGED}), and when the cluster is whole again.
 */
final class SplitJournal {

  private static final Logger LOG = LoggerFactory.getLogger(SplitJournal.class);

  /** How long a smaller cluster may last before it counts as whole. */
  static final long ACCEPT_AFTER_MS = 10 * 60_000;
  /** The most sessions the journal keeps. */
  static final int MAX_SESSIONS = 10_000;
  /** How often a split is looked at again without a membership change, so that a lasting one is accepted. */
  static final long CHECK_EVERY_MS = 30_000;
  /** How many copies are written back at once. */
  private static final int BATCH = 32;

  /** How soon copies that could not be written back are tried again. */
  static final long RETRY_MS = 5_000;

  private final HazelcastInstance hz;
  private final io.vertx.core.Vertx vertx;
  private final Function<Session, Future<?>> writeBack;
  private final LongSupplier clockMs;
  private final Map<String, Session> changed = new ConcurrentHashMap<>();
  private int wholeSize;
  private long splitSince;
  private volatile boolean recording;
  private volatile boolean closed;
  private boolean warnedFull;
  private UUID membershipListener;
  private UUID lifecycleListener;
  private long checkTimer = -1;

  /**
   * @param writeBack merges a kept copy into the cluster (the store's merge)
   * @param clockMs   milliseconds, for how long a split lasts
   */
  SplitJournal(HazelcastInstance hz, io.vertx.core.Vertx vertx, Function<Session, Future<?>> writeBack,
               LongSupplier clockMs) {
    this.hz = hz;
    this.vertx = vertx;
    this.writeBack = writeBack;
    this.clockMs = clockMs;
  }

  /** Starts watching the cluster's members and this member's merges. */
  SplitJournal start() {
    synchronized (this) {
      wholeSize = dataMembers();
    }
    membershipListener = hz.getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent e) {
        membersChanged();
      }

      @Override
      public void memberRemoved(MembershipEvent e) {
        membersChanged();
      }
    });
    lifecycleListener = hz.getLifecycleService().addLifecycleListener(e -> {
      if (e.getState() == LifecycleState.MERGED) {
        membersChanged();
        writeBack("this member merged into the other side's cluster");
      }
    });
    // A node lost for good changes no membership after it: this is what ends recording then.
    checkTimer = vertx.setPeriodic(CHECK_EVERY_MS, t -> {
      if (recording) {
        membersChanged();
      }
    });
    return this;
  }

  /** Stops watching; what is kept is dropped. */
  void close() {
    closed = true;
    vertx.cancelTimer(checkTimer);
    try {
      if (hz.getLifecycleService().isRunning()) {
        hz.getCluster().removeMembershipListener(membershipListener);
        hz.getLifecycleService().removeLifecycleListener(lifecycleListener);
      }
    } catch (RuntimeException e) {
      // shutting down
    }
    changed.clear();
  }

  /** Keeps the session as a write acknowledged on this node left it, if the cluster is split now. */
  void record(Session s) {
    if (!recording || s == null) {
      return;
    }
    if (changed.size() >= MAX_SESSIONS && !changed.containsKey(s.id())) {
      synchronized (this) {
        if (!warnedFull) {
          warnedFull = true;
          LOG.warn("The cluster has been split for a while and this node changed over {} sessions meanwhile; it "
              + "keeps no more copies to write back after the heal, so changes to others on this side may be lost "
              + "if Hazelcast's merge drops them (docs/cluster.md)", MAX_SESSIONS);
        }
      }
      return;
    }
    changed.merge(s.id(), s, (kept, now) -> now.version() >= kept.version() ? now : kept);
  }

  /** How many sessions are kept to write back. */
  int size() {
    return changed.size();
  }

  /** Whether writes are being kept: the cluster is smaller than when it was last whole. */
  boolean recording() {
    return recording;
  }

  private void membersChanged() {
    boolean whole;
    synchronized (this) {
      if (!hz.getLifecycleService().isRunning()) {
        return;
      }
      int n = dataMembers();
      long now = clockMs.getAsLong();
      if (n < wholeSize && splitSince != 0 && now - splitSince > ACCEPT_AFTER_MS) {
        LOG.info("The cluster has had {} of its {} data members for over {} min: taking that as whole",
            n, wholeSize, ACCEPT_AFTER_MS / 60_000);
        wholeSize = n;
      }
      if (n < wholeSize) {
        if (splitSince == 0) {
          splitSince = now;
          recording = true;
        }
        return;
      }
      wholeSize = n;
      whole = splitSince != 0;
      splitSince = 0;
      recording = false;
      warnedFull = false;
    }
    if (whole) {
      writeBack("the cluster is whole again");
    }
  }

  private int dataMembers() {
    int n = 0;
    for (Member m : hz.getCluster().getMembers()) {
      if (!m.isLiteMember()) {
        n++;
      }
    }
    return n;
  }

  /**
   * Writes every kept copy back through the store's merge, a batch at a time; a copy leaves the journal once
   * written (unless a newer one replaced it meanwhile). Copies that fail stay for the next write-back.
   */
  private void writeBack(String why) {
    List<Session> copies = new ArrayList<>(changed.values());
    if (copies.isEmpty()) {
      return;
    }
    LOG.info("Writing back the {} sessions this node changed while the cluster was split ({}), so that the "
        + "merge keeps every acknowledged write", copies.size(), why);
    writeBatch(copies, 0, new int[2]);
  }

  private void writeBatch(List<Session> copies, int from, int[] outcome) {
    if (from >= copies.size()) {
      if (outcome[1] == 0) {
        LOG.info("Wrote back {} sessions after the split", outcome[0]);
      } else {
        LOG.warn("Wrote back {} sessions after the split; {} failed and are tried again in {} s", outcome[0],
            outcome[1], RETRY_MS / 1000);
      }
      if (outcome[1] > 0 && !closed) {
        vertx.setTimer(RETRY_MS, t -> {
          if (!closed && !recording) {
            writeBack("retrying the ones that failed");
          }
        });
      }
      return;
    }
    List<Future<?>> batch = new ArrayList<>();
    for (Session s : copies.subList(from, Math.min(from + BATCH, copies.size()))) {
      batch.add(writeBack.apply(s).onComplete(ar -> {
        synchronized (outcome) {
          if (ar.succeeded()) {
            outcome[0]++;
            changed.remove(s.id(), s);
          } else {
            outcome[1]++;
          }
        }
      }));
    }
    Future.join(batch).onComplete(ar -> writeBatch(copies, from + BATCH, outcome));
  }
}
