package io.snakepit.supervisor;

import static io.snakepit.supervisor.WorkerState.DEAD;
import static io.snakepit.supervisor.WorkerState.DRAINING;
import static io.snakepit.supervisor.WorkerState.READY;
import static io.snakepit.supervisor.WorkerState.STARTING;
import static io.snakepit.supervisor.WorkerState.STOPPING;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The worker state table in code is the state diagram of docs/architecture.md ("A worker's life"). */
class WorkerStateTest {

  /** The arrows the diagram draws, each as from -> to. */
  private static final Set<List<WorkerState>> DRAWN = Set.of(
      List.of(STARTING, READY), List.of(STARTING, DRAINING), List.of(STARTING, STOPPING), List.of(STARTING, DEAD),
      List.of(READY, DRAINING), List.of(READY, DEAD),
      List.of(DRAINING, STOPPING), List.of(DRAINING, DEAD),
      List.of(STOPPING, DEAD));

  private static final Path ARCHITECTURE = Path.of("..", "docs", "architecture.md");

  @Test
  void everyTransitionTheDiagramDrawsIsAllowedAndEveryOtherIsRefused() {
    for (WorkerState from : WorkerState.values()) {
      for (WorkerState to : WorkerState.values()) {
        boolean drawn = DRAWN.contains(List.of(from, to));
        assertThat(from.canMoveTo(to)).as("%s -> %s", from, to).isEqualTo(drawn);
        assertThat(from.allowedNext().contains(to)).as("allowedNext of %s has %s", from, to).isEqualTo(drawn);
      }
    }
    assertThat(DEAD.allowedNext()).as("DEAD is final").isEmpty();
  }

  @Test
  void theDocumentedTableListsExactlyTheTransitionsTheDiagramDraws() throws Exception {
    // Rows such as "| STARTING | READY | its HELLO is accepted |" in the section "A worker's life".
    Pattern row = Pattern.compile("^\\| (\\w+) \\| (\\w+) \\|");
    Set<List<WorkerState>> documented = new HashSet<>();
    for (String line : Files.readAllLines(ARCHITECTURE)) {
      Matcher m = row.matcher(line);
      if (m.find() && isState(m.group(1)) && isState(m.group(2))) {
        documented.add(List.of(WorkerState.valueOf(m.group(1)), WorkerState.valueOf(m.group(2))));
      }
    }
    assertThat(documented).isEqualTo(DRAWN);
  }

  private static boolean isState(String name) {
    for (WorkerState s : WorkerState.values()) {
      if (s.name().equals(name)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void activeAndEndingStatesAreTheOnesTheSupervisorTreatsSo() {
    assertThat(Set.of(WorkerState.values())).filteredOn(WorkerState::isActive).containsOnly(READY, DRAINING);
    assertThat(Set.of(WorkerState.values())).filteredOn(WorkerState::isEnding).containsOnly(STOPPING, DEAD);
  }
}
