package io.snakepit.session.migration;

import io.snakepit.session.Session;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import java.util.List;
import java.util.function.LongSupplier;

/** A store's live sessions in id order, one page in memory at a time. */
final class PagedSessions {

  private final SessionStore store;
  private final int pageSize;
  private List<Session> page = List.of();
  private int index;
  private String cursor;
  private boolean last;
  private long seen;

  private final LongSupplier markBeforeListing;
  private long mark;

  PagedSessions(SessionStore store, int pageSize) {
    this(store, pageSize, () -> 0L);
  }

  /** @param markBeforeListing called right before each page is listed; {@link #mark()} answers it for the page */
  PagedSessions(SessionStore store, int pageSize, LongSupplier markBeforeListing) {
    this.store = store;
    this.pageSize = pageSize;
    this.markBeforeListing = markBeforeListing;
  }

  /** What {@code markBeforeListing} answered before the page the next session is on was listed. */
  long mark() {
    return mark;
  }

  /** The next session without taking it; null at the end. Completes at once when the page holds it. */
  Future<Session> peek() {
    if (index < page.size()) {
      return Future.succeededFuture(page.get(index));
    }
    if (last) {
      return Future.succeededFuture(null);
    }
    mark = markBeforeListing.getAsLong();
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
