package io.snakepit.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

/**
 * Properties of {@link Session#merge} (replicas converge whatever order they
 * merge in) and of {@link HybridLogicalClock}.
 *
 * <p>The copies are diverged copies of one session: a few shared entry names,
 * timestamps from a narrow range (so that equal stamps, from the same or
 * different nodes, are common), tombstoned entries, and deleted sessions. As
 * in a real cluster, a (timestamp, node) pair names one write: the same stamp
 * on the same node always carries the same value.
 */
public class SessionMergeProperties {

  private static final String ID = "s-1";
  private static final List<String> NAMES = List.of("a", "b", "c", "d");
  private static final List<String> NODES = List.of("n1", "n2", "n3");
  /** A variable that some copies hold as a counter. */
  private static final String COUNTER = "k";

  /** The node and worker that last served a copy; a worker belongs to one node. */
  private record Server(String node, String worker) {
  }

  private static final List<Server> SERVERS = List.of(new Server(null, null), new Server("n1", "n1/pool-0.0"),
      new Server("n1", "n1/pool-1.0"), new Server("n2", "n2/pool-0.0"), new Server("n3", "n3/pool-0.3"));

  // ---- generators ------------------------------------------------------------------------------

  private static Arbitrary<Long> stamps() {
    return Combinators.combine(Arbitraries.longs().between(1_000, 1_003), Arbitraries.integers().between(0, 2))
        .as(HybridLogicalClock::of);
  }

  /** The one write a node made to an entry at a stamp: what it is follows from where and when. */
  static Stamped write(String kind, String name, long hlc, String node) {
    int h = Objects.hash(kind, name, hlc, node);
    if (Math.floorMod(h, 5) == 0) {
      return Stamped.tombstone(hlc, node);
    }
    if (kind.equals("program")) {
      return Stamped.of(new JsonObject().put("code", "x = " + h), hlc, node);
    }
    Object value = switch (Math.floorMod(h >> 3, 7)) {
      case 0 -> "v" + h;
      case 1 -> h;
      case 2 -> h / 7.0;
      case 3 -> h % 2 == 0;
      case 4 -> null;
      case 5 -> new JsonObject().put("h", h).put("list", new JsonArray().add(h).addNull());
      default -> new JsonArray().add("v").add(h);
    };
    return Stamped.of(value, hlc, node);
  }

  private static Arbitrary<Map<String, Stamped>> entries(String kind) {
    List<Arbitrary<Optional<Stamped>>> perName = new ArrayList<>();
    List<String> names = new ArrayList<>(NAMES);
    for (String name : NAMES) {
      perName.add(Combinators.combine(stamps(), Arbitraries.of(NODES))
          .as((t, n) -> write(kind, name, t, n)).optional(0.7));
    }
    if (kind.equals("variable")) {
      names.add(COUNTER);
      perName.add(counterOrValue());
    }
    return Combinators.combine(perName).as(list -> {
      Map<String, Stamped> m = new HashMap<>();
      for (int i = 0; i < names.size(); i++) {
        int k = i;
        list.get(i).ifPresent(s -> m.put(names.get(k), s));
      }
      return m;
    });
  }

  /** The variable named {@link #COUNTER}: a counter on some copies, a plain value or tombstone on others. */
  private static Arbitrary<Optional<Stamped>> counterOrValue() {
    Arbitrary<Map<String, Long>> totals = Arbitraries.maps(Arbitraries.of(NODES), Arbitraries.longs().between(0, 5))
        .ofMaxSize(3);
    Arbitrary<Stamped> counter = Combinators.combine(stamps(), Arbitraries.of(NODES), totals, totals)
        .as((t, n, up, down) -> Stamped.counter(new Counter(up, down), t, n));
    Arbitrary<Stamped> plain = Combinators.combine(stamps(), Arbitraries.of(NODES))
        .as((t, n) -> write("variable", COUNTER, t, n));
    return Arbitraries.oneOf(counter, plain).optional(0.8);
  }

  /** A diverged copy of the session; about one in five is a deleted one (a tombstone). */
  @Provide
  Arbitrary<Session> copies() {
    Arbitrary<Session> live = Combinators.combine(Arbitraries.longs().between(100, 102),
        Arbitraries.longs().between(200, 203), Arbitraries.of(60_000L, 120_000L), Arbitraries.longs().between(1, 6),
        Arbitraries.of(SERVERS), entries("metadata"), entries("program"), entries("variable"))
        .as((created, accessed, ttl, version, server, meta, progs, vars) -> new Session(ID, created, accessed, ttl,
            version, server.node(), server.worker(), meta, progs, vars, 0));
    // About half the live copies carry a stamped served-by record (Session.SERVED_KEY), as copies written since
    // it exists do; the rest stand for copies from before it. One writer never stamps two records alike (its
    // clock only moves forward), so the writer here names the record it wrote.
    Arbitrary<Session> stampedOrNot = Combinators.combine(live, stamps().optional(0.5))
        .as((s, servedAt) -> servedAt.map(t -> s.servedBy(s.lastNode(), s.lastWorker(), t,
            s.lastNode() + "|" + s.lastWorker())).orElse(s));
    return Combinators.combine(stampedOrNot, stamps().optional(0.2))
        .as((s, deletedAt) -> deletedAt.map(s::deleted).orElse(s));
  }

  @Provide
  Arbitrary<Session> liveCopies() {
    return copies().filter(s -> !s.isDeleted());
  }

  // ---- merge -----------------------------------------------------------------------------------

  @Property(tries = 1_000)
  void mergeIsCommutative(@ForAll("copies") Session a, @ForAll("copies") Session b) {
    assertThat(Session.merge(a, b)).isEqualTo(Session.merge(b, a));
  }

  @Property(tries = 1_000)
  void mergeIsAssociative(@ForAll("copies") Session a, @ForAll("copies") Session b,
                          @ForAll("copies") Session c) {
    assertThat(Session.merge(Session.merge(a, b), c)).isEqualTo(Session.merge(a, Session.merge(b, c)));
  }

  @Property(tries = 500)
  void mergeIsIdempotent(@ForAll("copies") Session a, @ForAll("copies") Session b) {
    assertThat(Session.merge(a, a)).isEqualTo(a);
    Session ab = Session.merge(a, b);
    assertThat(Session.merge(ab, b)).isEqualTo(ab);
    assertThat(Session.merge(ab, a)).isEqualTo(ab);
    assertThat(Session.merge(ab, ab)).isEqualTo(ab);
  }

  @Property(tries = 500)
  void mergeWithNothingIsTheCopy(@ForAll("copies") Session a) {
    assertThat(Session.merge(a, null)).isSameAs(a);
    assertThat(Session.merge(null, a)).isSameAs(a);
  }

  @Property(tries = 300)
  void replicasConvergeWhateverTheOrder(@ForAll @Size(min = 1, max = 6) List<@From("copies") Session> copies,
                                        @ForAll long seed) {
    List<Session> shuffled = new ArrayList<>(copies);
    Collections.shuffle(shuffled, new Random(seed));
    // Left to right over one order, and as a balanced tree over another.
    assertThat(tree(shuffled)).isEqualTo(fold(copies));
    assertThat(fold(shuffled).toStorageJson()).isEqualTo(fold(copies).toStorageJson());
  }

  private static Session fold(List<Session> copies) {
    Session out = null;
    for (Session s : copies) {
      out = Session.merge(out, s);
    }
    return out;
  }

  private static Session tree(List<Session> copies) {
    if (copies.size() == 1) {
      return copies.get(0);
    }
    int mid = copies.size() / 2;
    return Session.merge(tree(copies.subList(0, mid)), tree(copies.subList(mid, copies.size())));
  }

  @Property(tries = 1_000)
  void eachEntryKeepsItsLastWrite(@ForAll("liveCopies") Session a, @ForAll("liveCopies") Session b) {
    Session m = Session.merge(a, b);
    assertThat(m.isDeleted()).isFalse();
    assertLastWriteWins(m.variables(), a.variables(), b.variables());
    assertLastWriteWins(m.programs(), a.programs(), b.programs());
    assertLastWriteWins(m.metadata(), a.metadata(), b.metadata());
    assertThat(m.version()).isEqualTo(Math.max(a.version(), b.version()));
    assertThat(m.accessedAt()).isEqualTo(Math.max(a.accessedAt(), b.accessedAt()));
    assertThat(m.createdAt()).isEqualTo(Math.min(a.createdAt(), b.createdAt()));
  }

  /** An oracle written apart from {@link Stamped#winsOver}: later stamp, then greater node. */
  private static void assertLastWriteWins(Map<String, Stamped> merged, Map<String, Stamped> a,
                                          Map<String, Stamped> b) {
    Set<String> names = new HashSet<>(a.keySet());
    names.addAll(b.keySet());
    assertThat(merged.keySet()).isEqualTo(names);
    for (String name : names) {
      Stamped x = a.get(name);
      Stamped y = b.get(name);
      if ((x != null && x.isCounter()) || (y != null && y.isCounter())) {
        continue; // counters merge by their own rule: countersKeepEveryNodesIncrements
      }
      Stamped expected;
      if (x == null || y == null) {
        expected = x == null ? y : x;
      } else if (x.hlc() != y.hlc()) {
        expected = x.hlc() > y.hlc() ? x : y;
      } else {
        expected = x.node().compareTo(y.node()) >= 0 ? x : y;
      }
      assertThat(merged.get(name)).as("entry %s", name).isEqualTo(expected);
    }
  }

  /**
   * A counter on either copy wins over a plain value or tombstone, and two counters keep, per node, the larger
   * total: a node's increments on one side of a partition are never undone by the other side's copy.
   */
  @Property(tries = 1_000)
  void countersKeepEveryNodesIncrements(@ForAll("liveCopies") Session a, @ForAll("liveCopies") Session b) {
    Stamped x = a.variables().get(COUNTER);
    Stamped y = b.variables().get(COUNTER);
    Stamped m = Session.merge(a, b).variables().get(COUNTER);
    boolean xc = x != null && x.isCounter();
    boolean yc = y != null && y.isCounter();
    if (!xc && !yc) {
      return;
    }
    assertThat(m.isCounter()).isTrue();
    assertThat(m.deleted()).isFalse();
    for (String node : NODES) {
      long up = Math.max(xc ? x.counter().up().getOrDefault(node, 0L) : 0, yc ? y.counter().up().getOrDefault(node,
          0L) : 0);
      long down = Math.max(xc ? x.counter().down().getOrDefault(node, 0L) : 0,
          yc ? y.counter().down().getOrDefault(node, 0L) : 0);
      assertThat(m.counter().up().getOrDefault(node, 0L)).as("%s's increments", node).isEqualTo(up);
      assertThat(m.counter().down().getOrDefault(node, 0L)).as("%s's decrements", node).isEqualTo(down);
    }
    assertThat(m.value()).isEqualTo(m.counter().value());
  }

  /** Increments made on two sides of a partition, each side by its own nodes, all count after the merge. */
  @Example
  void incrementsOnBothSidesOfAPartitionAllCount() {
    Session before = Session.create(ID, 100, 60_000).withIncrement("n", 5, 10, "n1");
    Session sideA = before.withIncrement("n", 2, 20, "n1").withIncrement("n", -1, 21, "n1");
    Session sideB = before.withIncrement("n", 3, 22, "n2").withIncrement("n", 4, 23, "n3");
    Session merged = Session.merge(sideA, sideB);
    assertThat(merged.variable("n")).isEqualTo(5L + 2 - 1 + 3 + 4);
    assertThat(Session.fromStorageJson(merged.toStorageJson())).isEqualTo(merged);
    assertThat(merged.variablesJson().getLong("n")).isEqualTo(13L);
    // A read-modify-write of the same name on each side keeps only the later write.
    Session rmwA = before.withVariable("m", Stamped.of(6, 20, "n1"));
    Session rmwB = before.withVariable("m", Stamped.of(6, 22, "n2"));
    assertThat(Session.merge(rmwA, rmwB).variable("m")).isEqualTo(6);
  }

  @Example
  void aCounterOnlyMovesByIncrements() {
    Session s = Session.create(ID, 100, 60_000).withIncrement("n", 1, 10, "n1")
        .withVariable("v", Stamped.of("x", 11, "n1"));
    assertThatThrownBy(() -> s.checkNotCounter("n")).isInstanceOf(SnakepitException.class)
        .hasMessageContaining("counter");
    assertThatThrownBy(() -> s.withIncrement("v", 1, 12, "n1")).isInstanceOf(SnakepitException.class)
        .hasMessageContaining("not a counter");
    assertThatThrownBy(() -> s.withIncrement("n", Long.MAX_VALUE, 12, "n1")).isInstanceOf(SnakepitException.class)
        .hasMessageContaining("64-bit");
    // A deleted plain value may become a counter.
    Session deleted = s.withVariable("v", Stamped.tombstone(13, "n1"));
    assertThat(deleted.withIncrement("v", 2, 14, "n2").variable("v")).isEqualTo(2L);
  }

  @Property(tries = 1_000)
  void aDeleteWinsOverAnyCopy(@ForAll("copies") Session a, @ForAll("copies") Session b) {
    Session m = Session.merge(a, b);
    assertThat(m.isDeleted()).isEqualTo(a.isDeleted() || b.isDeleted());
    if (m.isDeleted()) {
      assertThat(m.deletedHlc()).isEqualTo(Math.max(a.deletedHlc(), b.deletedHlc()));
      assertThat(m.variables()).isEmpty();
      assertThat(m.programs()).isEmpty();
      assertThat(m.metadata()).isEmpty();
      assertThat(m.lastNode()).isNull();
      assertThat(m.lastWorker()).isNull();
    }
  }

  @Property(tries = 1_000)
  void aDeletedSessionStaysDeletedWhateverStaleCopiesArrive(
      @ForAll("copies") Session before, @ForAll @Size(min = 1, max = 4) List<@From("copies") Session> stale,
      @ForAll @IntRange(min = 1, max = 100) int after) {
    // Deleted after everything the stale copies hold: later than all their stamps.
    long newest = 0;
    for (Session s : stale) {
      newest = Math.max(newest, Math.max(s.deletedHlc(), maxStamp(s)));
    }
    long deletedAt = Math.max(newest, Math.max(maxStamp(before), before.deletedHlc())) + after;
    Session tomb = before.deleted(deletedAt);
    Session m = tomb;
    for (Session s : stale) {
      m = Session.merge(m, s);
      assertThat(m.isDeleted()).isTrue();
      assertThat(m.deletedHlc()).isEqualTo(deletedAt);
    }
    Session other = tomb;
    for (Session s : stale) {
      other = Session.merge(s, other);
    }
    assertThat(other).isEqualTo(m);
    assertThat(m.toStorageJson().containsKey("variables")).isFalse();
  }

  private static long maxStamp(Session s) {
    long max = 0;
    for (Map<String, Stamped> m : List.of(s.metadata(), s.programs(), s.variables())) {
      for (Stamped v : m.values()) {
        max = Math.max(max, v.hlc());
      }
    }
    return max;
  }

  @Property(tries = 500)
  void mergeSurvivesTheStorageForm(@ForAll("copies") Session a, @ForAll("copies") Session b) {
    Session a2 = Session.fromStorageJson(new JsonObject(a.toStorageJson().encode()));
    Session b2 = Session.fromStorageJson(new JsonObject(b.toStorageJson().encode()));
    assertThat(a2.toStorageJson()).isEqualTo(a.toStorageJson());
    assertThat(Session.merge(a2, b2).toStorageJson()).isEqualTo(Session.merge(a, b).toStorageJson());
  }

  /**
   * Worker ids are per node ({@code pool-slot.generation}, see WorkerPool), so two nodes can
   * record the same worker name at the same millisecond during a partition. The merge must still
   * be commutative, or the replicas never agree on the session's last node.
   */
  @Example
  void mergeIsCommutativeWhenTwoNodesRecordTheSameWorkerNameAtOnce() {
    Session base = Session.create(ID, 1_000, 60_000);
    Session onN1 = base.servedBy("n1", "default-0.0", 5_000, "n1").touched(2_000);
    Session onN2 = base.servedBy("n2", "default-0.0", 5_000, "n2").touched(2_000);
    assertThat(Session.merge(onN1, onN2)).isEqualTo(Session.merge(onN2, onN1));
  }

  /**
   * The served-by record written last wins, whatever the copies' access times: a node that claimed the session
   * after the other served it, but whose copy was touched less recently (touches move in steps of the touch
   * granularity, on wall clocks), must stay the session's last node, or its next call looks for the Python-side
   * state on the other node, which handed it over (a lost {@code recall} after a heal in
   * {@code tests/chaos.sh --seed 11 --majority}).
   */
  @Example
  void theServedByRecordWrittenLastWinsOverTheCopyAccessedLast() {
    Session base = Session.create(ID, 1_000, 60_000);
    Session servedOnN2 = base.servedBy("n2", "default-0.0", 200, "n2").touched(1_500);
    Session claimedByN3 = servedOnN2.servedBy("n3", null, 300, "n3");
    Session staleOnN2 = servedOnN2.touched(1_900);
    for (Session merged : List.of(Session.merge(staleOnN2, claimedByN3), Session.merge(claimedByN3, staleOnN2))) {
      assertThat(merged.lastNode()).isEqualTo("n3");
      assertThat(merged.lastWorker()).isNull();
      assertThat(merged.accessedAt()).isEqualTo(1_900);
    }
    // The record is the node's: not shown, not counted against the metadata limit.
    assertThat(claimedByN3.toJson().getJsonObject("metadata", new io.vertx.core.json.JsonObject()).isEmpty()).isTrue();
  }

  // ---- hybrid logical clock ---------------------------------------------------------------------

  /** A wall clock that reads the given values in turn (it may go backwards, or stand still). */
  private static java.util.function.LongSupplier wall(List<Long> readings) {
    AtomicInteger i = new AtomicInteger();
    return () -> readings.get(Math.floorMod(i.getAndIncrement(), readings.size()));
  }

  @Property(tries = 500)
  void nowIsStrictlyIncreasingAndFollowsTheWallClock(
      @ForAll @Size(min = 1, max = 50) List<@LongRange(min = 0, max = 1L << 44) Long> readings) {
    HybridLogicalClock clock = new HybridLogicalClock(wall(readings));
    long previous = Long.MIN_VALUE;
    for (int i = 0; i < readings.size() * 2; i++) {
      long wallNow = readings.get(i % readings.size());
      long t = clock.now();
      assertThat(t).isGreaterThan(previous);
      assertThat(HybridLogicalClock.millis(t)).isGreaterThanOrEqualTo(wallNow);
      previous = t;
    }
  }

  @Property(tries = 500)
  void observeExceedsTheRemoteAndEverythingBefore(
      @ForAll @Size(min = 1, max = 20) List<@LongRange(min = 0, max = 1L << 44) Long> readings,
      @ForAll @Size(min = 1, max = 30) List<@LongRange(min = -1, max = 1L << 60) Long> remotes) {
    HybridLogicalClock clock = new HybridLogicalClock(wall(readings));
    long previous = Long.MIN_VALUE;
    for (long remote : remotes) {
      // -1 stands for a local event between two remote ones.
      long t = remote < 0 ? clock.now() : clock.observe(remote);
      assertThat(t).isGreaterThan(previous);
      if (remote >= 0) {
        assertThat(t).as("observe(%s)", remote).isGreaterThan(remote);
      }
      long after = clock.now();
      assertThat(after).as("a local event after it").isGreaterThan(t);
      previous = after;
    }
  }

  @Property(tries = 500)
  void stampsPackMillisAndCounter(@ForAll @LongRange(min = 0, max = (1L << 47) - 2) long millis,
                                  @ForAll @IntRange(min = 0, max = 65_535) int logical) {
    long t = HybridLogicalClock.of(millis, logical);
    assertThat(HybridLogicalClock.millis(t)).isEqualTo(millis);
    assertThat(HybridLogicalClock.logical(t)).isEqualTo(logical);
    assertThat(HybridLogicalClock.of(millis, logical + 1 > 65_535 ? 65_535 : logical + 1))
        .isGreaterThanOrEqualTo(t);
    assertThat(HybridLogicalClock.of(millis + 1, 0)).isGreaterThan(t);
  }
}
