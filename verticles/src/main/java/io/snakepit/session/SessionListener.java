package io.snakepit.session;

/** Events of a store: the session-storage verticle publishes them on the event bus. */
public interface SessionListener {

  void created(Session session);

  void deleted(String id);

  void expired(String id);

  /** A listener that ignores everything. */
  SessionListener NONE = new SessionListener() {
    @Override
    public void created(Session session) {
    }

    @Override
    public void deleted(String id) {
    }

    @Override
    public void expired(String id) {
    }
  };
}
