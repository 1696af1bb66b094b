package io.snakepit.supervisor;

import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The states of a worker process and the only changes between them. This
 * table is the state diagram of docs/architecture.md ("A worker's life");
 * {@code WorkerStateTest} holds the two to each other, and
 * {@link WorkerProcess} changes state only through it.
 */
enum WorkerState {

  /** Spawned (or being spawned); its HELLO has not arrived. */
  STARTING,
  /** Connected and taking calls. */
  READY,
  /** Takes no new calls: recycled or stopping while calls run, or killed and waiting for its exit. */
  DRAINING,
  /** Asked to exit (SHUTDOWN, then SIGTERM, then SIGKILL), or stopped before it connected. */
  STOPPING,
  /** The process has exited; final. */
  DEAD;

  private static final Map<WorkerState, Set<WorkerState>> NEXT = new EnumMap<>(WorkerState.class);

  static {
    // Every state may end in DEAD: a process can exit at any moment, whatever the node had in mind.
    allow(STARTING, READY, DRAINING, STOPPING, DEAD);
    allow(READY, DRAINING, DEAD);
    allow(DRAINING, STOPPING, DEAD);
    allow(STOPPING, DEAD);
    allow(DEAD);
  }

  private static void allow(WorkerState from, WorkerState... to) {
    Set<WorkerState> next = EnumSet.noneOf(WorkerState.class);
    Collections.addAll(next, to);
    NEXT.put(from, Collections.unmodifiableSet(next));
  }

  /** The states a worker in this state may move to; staying put is not a move. */
  Set<WorkerState> allowedNext() {
    return NEXT.get(this);
  }

  /** Whether the table allows a move from this state to {@code next}. */
  boolean canMoveTo(WorkerState next) {
    return NEXT.get(this).contains(next);
  }

  /** READY or DRAINING: taking or finishing calls, so heartbeats and RSS readings watch it. */
  boolean isActive() {
    return this == READY || this == DRAINING;
  }

  /** Asked to exit, or gone: nothing more to stop. */
  boolean isEnding() {
    return this == STOPPING || this == DEAD;
  }
}
