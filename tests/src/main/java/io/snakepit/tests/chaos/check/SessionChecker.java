package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import io.snakepit.tests.chaos.Op;
import io.snakepit.tests.chaos.Op.Fn;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Sessions created and deleted: no acknowledged create is missing at the end
 * (unless a delete of it was sent), and no acknowledged delete is undone.
 */
final class SessionChecker implements Checker {

  @Override
  public String name() {
    return "sessions";
  }

  @Override
  public String promise() {
    return "no acknowledged create missing, no acknowledged delete undone";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    List<Anomaly> out = new ArrayList<>();
    Set<String> deleteSent = history.ops(o -> o.fn() == Fn.DELETE).stream().map(Op::session)
        .collect(Collectors.toSet());
    for (Op create : history.ops(o -> o.fn() == Fn.CREATE && o.ok())) {
      if (!deleteSent.contains(create.session()) && end.sessions().get(create.session()) == null) {
        out.add(new Anomaly(name(), "lost-session", "session " + create.session() + " was created (acknowledged "
            + "via " + create.node() + ") and never deleted, but no node has it", List.of(create)));
      }
    }
    for (Op delete : history.ops(o -> o.fn() == Fn.DELETE && o.ok())) {
      if (end.sessions().get(delete.session()) != null) {
        out.add(new Anomaly(name(), "resurrected-session", "session " + delete.session() + " was deleted "
            + "(acknowledged via " + delete.node() + ") but is back", List.of(delete)));
      }
    }
    return out;
  }
}
