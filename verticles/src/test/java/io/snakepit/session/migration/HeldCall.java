package io.snakepit.session.migration;

import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A test's hold on the first call of one method of a store, so that a test can set up an interleaving without
 * any timing: {@link #answer} holds a {@code list}'s page after reading it (a backfill then copies what it read
 * before the test's changes), {@link #call} holds a {@code merge} before it reaches the store (a write's copy on
 * its way to the second store). Later calls pass as they come.
 */
final class HeldCall {

  private final String method;
  private final boolean beforeTheCall;
  private final AtomicBoolean taken = new AtomicBoolean();
  private final Promise<Void> holding = Promise.promise();
  private final Promise<Void> released = Promise.promise();

  private HeldCall(String method, boolean beforeTheCall) {
    this.method = method;
    this.beforeTheCall = beforeTheCall;
  }

  /** Holds the answer of the first call of {@code method}: the call has read the store, its caller waits. */
  static HeldCall answer(String method) {
    return new HeldCall(method, false);
  }

  /** Holds the first call of {@code method} before it reaches the store. */
  static HeldCall call(String method) {
    return new HeldCall(method, true);
  }

  /** {@code store}, with the first call of the method held until {@link #release}. */
  SessionStore around(SessionStore store) {
    return (SessionStore) Proxy.newProxyInstance(SessionStore.class.getClassLoader(),
        new Class<?>[] {SessionStore.class}, (proxy, m, args) -> {
          if (!m.getName().equals(method) || !taken.compareAndSet(false, true)) {
            return invoke(store, m, args);
          }
          holding.complete();
          if (beforeTheCall) {
            return released.future().compose(v -> {
              try {
                return (Future<?>) invoke(store, m, args);
              } catch (Throwable e) {
                return Future.failedFuture(e);
              }
            });
          }
          return ((Future<?>) invoke(store, m, args)).compose(answer -> released.future().map(answer));
        });
  }

  private static Object invoke(SessionStore store, Method m, Object[] args) throws Throwable {
    try {
      return m.invoke(store, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** Completes once the call is being held. */
  Future<Void> holding() {
    return holding.future();
  }

  /** Lets the held call go on. */
  void release() {
    released.tryComplete();
  }
}
