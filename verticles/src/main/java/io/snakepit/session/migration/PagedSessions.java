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

  /** One id of two stores paged side by side. */
  @FunctionalInterface
  interface PairVisit {
    /**
     * @param first  the first store's session of the id, or null when it has none
     * @param second the second store's, or null
     * @return completes once the pair is dealt with (failed, it ends the walk); a completed future lets the walk
     *     go on within the pages it holds
     */
    Future<Void> visit(Session first, Session second);
  }

  /**
   * Walks two stores in id order side by side, one page of each in memory, one {@code visit} per id, until both
   * end. Recurses once per pair that needs a store round trip; pairs within loaded pages go round a loop.
   */
  static Future<Void> sideBySide(PagedSessions first, PagedSessions second, PairVisit visit) {
    while (true) {
      Future<Session> a = first.peek();
      Future<Session> b = second.peek();
      if (!a.isComplete() || !b.isComplete()) {
        return Future.all(a, b).compose(v -> sideBySide(first, second, visit));
      }
      if (a.failed() || b.failed()) {
        return Future.failedFuture(a.failed() ? a.cause() : b.cause());
      }
      Session s = a.result();
      Session t = b.result();
      if (s == null && t == null) {
        return Future.succeededFuture();
      }
      int order = s == null ? 1 : t == null ? -1 : s.id().compareTo(t.id());
      if (order <= 0) {
        first.advance();
      }
      if (order >= 0) {
        second.advance();
      }
      Future<Void> done = visit.visit(order <= 0 ? s : null, order >= 0 ? t : null);
      if (!done.isComplete()) {
        return done.compose(v -> sideBySide(first, second, visit));
      }
      if (done.failed()) {
        return done;
      }
    }
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
