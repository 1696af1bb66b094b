package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.check.Anomaly;
import io.snakepit.tests.chaos.check.RunFacts;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Proof that the checkers can fail: plants one known anomaly at a time into a
 * history that checks clean (a lost write, a doubled increment, a
 * resurrected session, two owners, lost Python-side state, an internal
 * error, a process left behind, nodes that never agree) and requires the
 * checker that owns it to report it.
 */
public final class SelfTest {

  /** A history and the state it ended in. */
  public record Case(History history, FinalState end) {
  }

  /** One planted anomaly, and whether its checker reported it ({@code planted} is false when the history had
   * nothing to plant it in). */
  public record Result(String anomaly, String checker, String kind, boolean planted, boolean reported) {

    public boolean passed() {
      return planted && reported;
    }
  }

  private record Plant(String anomaly, String checker, String kind, Function<Case, Optional<Case>> plant) {
  }

  private SelfTest() {
  }

  /** Plants each anomaly into {@code clean} and checks it; {@code clean} itself must check clean. */
  public static List<Result> run(Case clean, RunFacts facts, long convergenceBoundMs) {
    Map<String, List<Anomaly>> before = ChaosRun.check(clean.history(), clean.end(), facts, convergenceBoundMs)
        .anomalies();
    List<Result> out = new ArrayList<>();
    // The base must check clean, or a planted anomaly could hide among real ones.
    out.add(new Result("nothing (the base)", "all", "-", true,
        before.values().stream().allMatch(List::isEmpty)));
    for (Plant p : plants(facts)) {
      Optional<Case> planted = p.plant().apply(clean);
      if (planted.isEmpty()) {
        out.add(new Result(p.anomaly(), p.checker(), p.kind(), false, false));
        continue;
      }
      Map<String, List<Anomaly>> after = ChaosRun.check(planted.get().history(), planted.get().end(), facts,
          convergenceBoundMs).anomalies();
      out.add(new Result(p.anomaly(), p.checker(), p.kind(), true,
          count(after, p.checker(), p.kind()) > count(before, p.checker(), p.kind())));
    }
    return out;
  }

  private static long count(Map<String, List<Anomaly>> found, String checker, String kind) {
    return found.getOrDefault(checker, List.of()).stream().filter(a -> a.kind().equals(kind)).count();
  }

  /** The table {@code --self-test} prints. */
  public static String table(List<Result> outcomes) {
    StringBuilder b = new StringBuilder(String.format("%-22s %-13s %-26s %s%n", "planted", "checker", "kind",
        "result"));
    for (Result o : outcomes) {
      String result = !o.planted() ? "NOT PLANTED (the history has nothing to plant it in)"
          : o.checker().equals("all") ? (o.reported() ? "checks clean" : "NOT CLEAN: the base has anomalies")
          : o.reported() ? "reported" : "MISSED";
      b.append(String.format("%-22s %-13s %-26s %s%n", o.anomaly(), o.checker(), o.kind(), result));
    }
    return b.toString();
  }

  private static List<Plant> plants(RunFacts facts) {
    return List.of(
        new Plant("lost write", "registers", "lost-write", SelfTest::loseWrite),
        new Plant("doubled increment", "counters", "repeated-increment", SelfTest::doubleIncrement),
        new Plant("resurrected session", "sessions", "resurrected-session", SelfTest::resurrect),
        new Plant("two owners", "single-owner", "two-owners", SelfTest::twoOwners),
        new Plant("lost python state", "python-state", "lost-python-state", SelfTest::forget),
        new Plant("internal error", "errors", "untyped-or-internal-error", SelfTest::internalError),
        new Plant("process left behind", "processes", "process-left-behind", c -> Optional.of(new Case(c.history(),
            new FinalState(c.end().sessions(), c.end().recalled(), c.end().convergedAfterMs(), c.end().converged(),
                List.of("4242 python3 -m snakepit_worker (planted)"))))),
        new Plant("nodes never agree", "convergence", "diverged", c -> Optional.of(new Case(c.history(),
            new FinalState(c.end().sessions(), c.end().recalled(), -1, false, c.end().leftBehind())))));
  }

  /** The final value of a register becomes that of an acknowledged write overtaken by a later one. */
  static Optional<Case> loseWrite(Case c) {
    List<Op> writes = c.history().ops(o -> o.fn() == Fn.WRITE && o.ok());
    for (Op later : writes) {
      for (Op earlier : writes) {
        JsonObject vars = c.end().sessions().get(earlier.session());
        if (vars != null && earlier.session().equals(later.session()) && earlier.key().equals(later.key())
            && earlier.complete() < later.invoke()) {
          return Optional.of(new Case(c.history(), c.end().withSessions(replace(c.end().sessions(),
              earlier.session(), vars.copy().put(earlier.key(), earlier.value())))));
        }
      }
    }
    return Optional.empty();
  }

  /**
   * A later acknowledged increment returns what an earlier one did: of a read-modify-write counter, or of a
   * counter variable outside any partition (where a lower read is allowed in available mode).
   */
  static Optional<Case> doubleIncrement(Case c) {
    List<Op> incrs = c.history().ops(o -> (o.fn() == Fn.INCR || o.fn() == Fn.TALLY) && o.ok());
    for (Op b : incrs) {
      for (Op a : incrs) {
        if (a.session().equals(b.session()) && a.key().equals(b.key()) && a.complete() < b.invoke()
            && c.history().faults().stream().noneMatch(f -> f.kind().partition()
            && f.overlapsUntilSettled(a.invoke(), b.complete()))) {
          return Optional.of(new Case(swap(c.history(), b, b.withValue(a.value())), c.end()));
        }
      }
    }
    return Optional.empty();
  }

  /** A session deleted with an acknowledgement is back at the end. */
  static Optional<Case> resurrect(Case c) {
    return c.history().ops(o -> o.fn() == Fn.DELETE && o.ok()).stream().findFirst().map(d -> new Case(c.history(),
        c.end().withSessions(replace(c.end().sessions(), d.session(), new JsonObject()))));
  }

  /** An acknowledged call of a session ran on another node during another one's run (outside any partition). */
  static Optional<Case> twoOwners(Case c) {
    List<Op> holds = c.history().ops(o -> o.fn() == Fn.HOLD && o.ok() && o.extra() != null);
    for (Op a : holds) {
      long start = a.extra().getLong("start_ns");
      long end = a.extra().getLong("end_ns");
      if (c.history().faults().stream().anyMatch(f -> f.kind().partition() && f.overlapsUntilSettled(start, end))) {
        continue;
      }
      for (Op b : holds) {
        if (b != a && b.session().equals(a.session())) {
          JsonObject inside = b.extra().copy().put("start_ns", start).put("end_ns", end);
          Op overlapping = new Op(b.client(), b.fn(), b.session(), b.key(), b.value(), b.node(),
              a.ranOn() + "-other", b.correlationId(), b.invoke(), b.complete(), b.outcome(), b.status(), b.code(),
              inside);
          return Optional.of(new Case(swap(c.history(), b, overlapping), c.end()));
        }
      }
    }
    return Optional.empty();
  }

  /** A recall that returned the last remembered value, with no fault before it, returns nothing instead. */
  static Optional<Case> forget(Case c) {
    List<Op> remembers = c.history().ops(o -> o.fn() == Fn.REMEMBER && o.ok());
    for (Op recall : c.history().ops(o -> o.fn() == Fn.RECALL && o.ok() && o.value() != null)) {
      Optional<Op> last = remembers.stream().filter(r -> r.session().equals(recall.session())
          && r.complete() < recall.invoke()).reduce((x, y) -> y);
      if (last.isPresent() && c.history().faults().stream().noneMatch(f -> f.kind().losesPythonState
          && f.overlapsUntilSettled(last.get().complete(), recall.invoke()))) {
        return Optional.of(new Case(swap(c.history(), recall, recall.withValue(null)), c.end()));
      }
    }
    return Optional.empty();
  }

  /** One more operation, answered {@code internal}. */
  static Optional<Case> internalError(Case c) {
    return c.history().ops().stream().findFirst().map(any -> {
      List<Op> ops = new ArrayList<>(c.history().ops());
      ops.add(new Op(any.client(), any.fn(), any.session(), any.key(), any.value(), any.node(), null,
          "planted-internal", any.invoke(), any.complete(), Op.Outcome.FAIL, 500, "internal", new JsonObject()));
      return new Case(c.history().with(ops), c.end());
    });
  }

  private static History swap(History h, Op old, Op replacement) {
    List<Op> ops = new ArrayList<>(h.ops());
    ops.set(ops.indexOf(old), replacement);
    return h.with(ops);
  }

  private static Map<String, JsonObject> replace(Map<String, JsonObject> sessions, String id, JsonObject vars) {
    Map<String, JsonObject> out = new TreeMap<>(sessions);
    out.put(id, vars);
    return out;
  }
}
