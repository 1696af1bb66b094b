package io.snakepit.session.migration;

import io.snakepit.session.Session;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import java.util.List;

/** A store's live sessions in id order, one page in memory at a time. */
final class PagedSessions {

  private final SessionStore store;
  private final int pageSize;
  private List<Session> page = List.of();
  private int index;
  private String cursor;
  private boolean last;
  private long seen;

  PagedSessions(SessionStore store, int pageSize) {
    this.store = store;
    this.pageSize = pageSize;
  }

  /** The next session without taking it; null at the end. Completes at once when the page holds it. */
  Future<Session> peek() {
    if (index < page.size()) {
      return Future.succeededFuture(page.get(index));
    }
    if (last) {
      return Future.succeededFuture(null);
    }
    return store.list(cursor, pageSize).compose(p -> {
      take(p);
      return peek();
    });
  }

  private void take(SessionPage p) {
    page = p.sessions();
    index = 0;
    cursor = p.nextCursor();
    last = cursor == null;
  }

  /** Takes the session {@link #peek} answered. */
  void advance() {
    index++;
    seen++;
  }

  /** How many sessions were taken. */
  long seen() {
    return seen;
  }
}
