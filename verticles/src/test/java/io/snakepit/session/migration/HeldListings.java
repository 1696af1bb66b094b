package io.snakepit.session.migration;

import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

/**
 * A test's hold on a store's listings: the wrapped store's {@code list} reads its page at once, then answers it
 * only when the test {@link #release releases} it, so that a test can change the store between a backfill's
 * read of a page and its copy of the sessions on it, or keep a backfill from finishing, without any timing.
 */
final class HeldListings {

  private final Promise<Void> listed = Promise.promise();
  private final Promise<Void> released = Promise.promise();

  /** {@code store}, with every listing held until {@link #release}. */
  SessionStore around(SessionStore store) {
    return (SessionStore) Proxy.newProxyInstance(SessionStore.class.getClassLoader(),
        new Class<?>[] {SessionStore.class}, (proxy, method, args) -> {
          Object result;
          try {
            result = method.invoke(store, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
          if (!method.getName().equals("list")) {
            return result;
          }
          @SuppressWarnings("unchecked")
          Future<SessionPage> page = (Future<SessionPage>) result;
          return page.compose(p -> {
            listed.tryComplete();
            return released.future().map(p);
          });
        });
  }

  /** Completes once a page has been read (and is being held). */
  Future<Void> listed() {
    return listed.future();
  }

  /** Lets every held listing, and every later one, answer. */
  void release() {
    released.tryComplete();
  }
}
