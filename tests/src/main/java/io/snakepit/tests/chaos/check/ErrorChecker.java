package io.snakepit.tests.chaos.check;

import io.snakepit.contract.ErrorCode;
import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import io.snakepit.tests.chaos.Op;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Only documented, typed errors: every error a client met has a code from
 * docs/errors.md, and none is {@code internal} (a bug) or {@code tool_failed}
 * (the run's tools never raise, so a node error leaked through Python).
 * Besides the node's codes, a client may meet a refused connection (a node
 * that is down) or a connection that broke (a node killed while it held the
 * call), but never a call left without an answer past the client's timeout.
 */
final class ErrorChecker implements Checker {

  /** What the harness itself records when no typed answer came. */
  static final Set<String> TRANSPORT = Set.of("connection_refused", "no_answer");
  static final Set<String> FORBIDDEN = Set.of(ErrorCode.INTERNAL.code(), ErrorCode.TOOL_FAILED.code());

  @Override
  public String name() {
    return "errors";
  }

  @Override
  public String promise() {
    return "every error is documented and typed; none is internal; no call outlives the client's timeout";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    Set<String> documented = Arrays.stream(ErrorCode.values()).map(ErrorCode::code).collect(Collectors.toSet());
    Map<String, List<Op>> bad = new LinkedHashMap<>();
    for (Op op : history.ops(o -> o.code() != null)) {
      String code = op.code();
      String problem = null;
      if (code.equals("timed_out")) {
        problem = "stalled: no answer within the client's timeout";
      } else if (FORBIDDEN.contains(code)) {
        problem = "answered " + code;
      } else if (!documented.contains(code) && !TRANSPORT.contains(code)) {
        problem = "answered the undocumented code " + code;
      }
      if (problem != null) {
        bad.computeIfAbsent(op.fn() + " " + problem, k -> new ArrayList<>()).add(op);
      }
    }
    List<Anomaly> out = new ArrayList<>();
    for (Op op : history.ops(o -> o.code() == null && o.outcome() != Op.Outcome.OK)) {
      bad.computeIfAbsent(op.fn() + " answered an untyped error", k -> new ArrayList<>()).add(op);
    }
    bad.forEach((what, ops) -> out.add(new Anomaly(name(), what.contains("stalled") ? "stalled-call"
        : "untyped-or-internal-error", ops.size() + "x " + what + " (first: " + describe(ops.get(0)) + ")",
        ops.stream().limit(3).toList())));
    return out;
  }

  static String describe(Op op) {
    return op.status() + " via " + op.node() + ", correlation id " + op.correlationId()
        + (op.extra() == null ? "" : ": " + abbreviate(op.extra().encode()));
  }

  static String abbreviate(String s) {
    return s.length() > 240 ? s.substring(0, 240) + "..." : s;
  }
}
