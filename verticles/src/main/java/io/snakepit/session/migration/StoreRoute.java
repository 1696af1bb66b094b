package io.snakepit.session.migration;

import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;

/**
 * One phase's wiring of a {@link MigratingSessionStore}: which store answers reads, which one every write then
 * reaches too, and how many operations still run on this wiring. A change of phase installs a new route and
 * waits for the old one to drain, so that no operation begun under the old wiring is still on its way (into a
 * store about to close, or past a backfill that must see it) when the change completes.
 */
final class StoreRoute {

  final MigrationPhase phase;
  /** The store that was configured (or, after a commit, the store being migrated from). */
  final SessionStore source;
  /** The store being migrated to; null when none. */
  final SessionStore target;
  /**
   * Completes when operations may run on this route: at once, unless the route changes which store answers
   * first; then once the previous route has drained. Two stores must never both apply changes first at the same
   * time: a counter's per-node totals, incremented from the same value in each, would merge to one increment.
   */
  volatile Future<Void> ready = Future.succeededFuture();
  private long inFlight;
  private boolean retired;
  private final List<Promise<Void>> drainWaiters = new ArrayList<>();

  StoreRoute(MigrationPhase phase, SessionStore source, SessionStore target) {
    this.phase = phase;
    this.source = source;
    this.target = target;
  }

  /** Where reads go, and where writes go first. */
  SessionStore primary() {
    return phase.readsSource() ? source : target;
  }

  /** Where writes go next, once the primary has them; null when they go to one store only. */
  SessionStore secondary() {
    if (!phase.mirrors()) {
      return null;
    }
    return phase.readsSource() ? target : source;
  }

  /** Counts an operation in; false when the route was retired meanwhile (the caller takes the new one). */
  synchronized boolean enter() {
    if (retired) {
      return false;
    }
    inFlight++;
    return true;
  }

  void leave() {
    List<Promise<Void>> done;
    synchronized (this) {
      inFlight--;
      if (inFlight > 0 || !retired || drainWaiters.isEmpty()) {
        return;
      }
      done = new ArrayList<>(drainWaiters);
      drainWaiters.clear();
    }
    done.forEach(Promise::tryComplete);
  }

  /** Retires the route: completes once every operation that entered it has left. */
  Future<Void> retire() {
    synchronized (this) {
      retired = true;
      if (inFlight > 0) {
        Promise<Void> p = Promise.promise();
        drainWaiters.add(p);
        return p.future();
      }
    }
    return Future.succeededFuture();
  }
}
