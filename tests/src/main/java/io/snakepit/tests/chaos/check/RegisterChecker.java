package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import io.snakepit.tests.chaos.Op;
import io.snakepit.tests.chaos.Op.Fn;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Session variables written as registers, under the documented
 * last-writer-wins contract (docs/cluster.md): the final value of a register
 * comes from a write that was sent (no value from nowhere), and no
 * acknowledged write is lost, where a loss is a final value that comes from a
 * write that completed before another acknowledged write began. A read
 * returns a value some write sent.
 */
final class RegisterChecker implements Checker {

  @Override
  public String name() {
    return "registers";
  }

  @Override
  public String promise() {
    return "no acknowledged write lost to an earlier one; every value read or kept was written";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    List<Anomaly> out = new ArrayList<>();
    Map<String, List<Op>> byRegister = history.ops(o -> o.fn() == Fn.WRITE || o.fn() == Fn.READ).stream()
        .collect(Collectors.groupingBy(o -> o.session() + "/" + o.key(), TreeMap::new, Collectors.toList()));
    byRegister.forEach((register, ops) -> {
      List<Op> writes = ops.stream().filter(o -> o.fn() == Fn.WRITE).toList();
      for (Op read : ops) {
        if (read.fn() == Fn.READ && read.ok() && read.value() != null
            && writes.stream().noneMatch(w -> Objects.equals(number(w.value()), number(read.value()))
            && w.invoke() < read.complete())) {
          out.add(new Anomaly(name(), "read-from-nowhere", register + ": a read returned " + read.value()
              + ", which no write sent before the read completed", List.of(read)));
        }
      }
      List<Op> acked = writes.stream().filter(Op::ok).toList();
      if (acked.isEmpty()) {
        return;
      }
      JsonObject vars = end.sessions().get(ops.get(0).session());
      if (vars == null) {
        return; // the session checker reports a session that should exist
      }
      Object last = vars.getValue(ops.get(0).key());
      if (last == null) {
        out.add(new Anomaly(name(), "lost-write", register + " ends empty, though " + acked.size()
            + " writes to it were acknowledged", List.of(acked.get(acked.size() - 1))));
        return;
      }
      Op source = writes.stream().filter(w -> Objects.equals(number(w.value()), number(last))).findFirst()
          .orElse(null);
      if (source == null) {
        out.add(new Anomaly(name(), "value-from-nowhere", register + " ends at " + last + ", a value nobody wrote",
            List.of()));
        return;
      }
      if (!source.ok()) {
        return; // a write whose outcome is unknown may have taken effect at any time after it was sent
      }
      acked.stream().filter(later -> later.invoke() > source.complete()).findFirst().ifPresent(later ->
          out.add(new Anomaly(name(), "lost-write", String.format("%s ends at %s, written by %s via %s, but the "
              + "write of %s by %s via %s, sent after that one was acknowledged, was acknowledged too and is lost",
              register, last, source.client(), source.node(), later.value(), later.client(), later.node()),
              List.of(source, later))));
    });
    return out;
  }

  static Object number(Object v) {
    return v instanceof Number n ? (Object) n.longValue() : v;
  }
}
