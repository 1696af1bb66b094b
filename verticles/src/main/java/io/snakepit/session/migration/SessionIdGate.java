package io.snakepit.session.migration;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A readers-writer gate per session id, without blocking a thread: an operation waits by a future. Writes that
 * keep a session's incarnation (an update, a merge) pass together; an operation that changes it (a create, a
 * delete) or copies a listed session into the other store (the backfill) passes alone. Waiters pass in the order
 * they came, so a stream of writes cannot starve a copy. Only ids with an operation under way take memory.
 */
final class SessionIdGate {

  private final Map<String, Slot> slots = new HashMap<>();

  private static final class Slot {
    int shared;
    boolean exclusive;
    final ArrayDeque<Waiter> waiting = new ArrayDeque<>();
  }

  private record Waiter(boolean exclusive, Promise<Void> admitted) {
  }

  /** Runs {@code op} once admitted for {@code id}, alone when {@code exclusive}; passes on when it ends. */
  <T> Future<T> run(String id, boolean exclusive, Supplier<Future<T>> op) {
    return enter(id, exclusive).compose(v -> {
      Future<T> f;
      try {
        f = op.get();
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      return f.andThen(ar -> leave(id, exclusive));
    });
  }

  private Future<Void> enter(String id, boolean exclusive) {
    synchronized (this) {
      Slot s = slots.computeIfAbsent(id, k -> new Slot());
      if (s.waiting.isEmpty() && !s.exclusive && (!exclusive || s.shared == 0)) {
        admit(s, exclusive);
        return Future.succeededFuture();
      }
      Promise<Void> p = Promise.promise();
      s.waiting.add(new Waiter(exclusive, p));
      return p.future();
    }
  }

  private static void admit(Slot s, boolean exclusive) {
    if (exclusive) {
      s.exclusive = true;
    } else {
      s.shared++;
    }
  }

  private void leave(String id, boolean exclusive) {
    List<Promise<Void>> admitted = new ArrayList<>();
    synchronized (this) {
      Slot s = slots.get(id);
      if (exclusive) {
        s.exclusive = false;
      } else {
        s.shared--;
      }
      while (!s.waiting.isEmpty() && !s.exclusive) {
        Waiter w = s.waiting.peek();
        if (w.exclusive() && s.shared > 0) {
          break;
        }
        s.waiting.poll();
        admit(s, w.exclusive());
        admitted.add(w.admitted());
      }
      if (s.shared == 0 && !s.exclusive && s.waiting.isEmpty()) {
        slots.remove(id);
      }
    }
    // Outside the lock: an admitted operation may run (and come back here) on this thread.
    admitted.forEach(Promise::complete);
  }

  /** How many ids have an operation under way or waiting (for tests: the gate holds no memory when idle). */
  synchronized int busyIds() {
    return slots.size();
  }
}
