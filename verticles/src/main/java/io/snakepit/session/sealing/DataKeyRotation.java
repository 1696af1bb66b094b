package io.snakepit.session.sealing;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.util.Iterator;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background re-encryption of every stored session with the active data
 * key ({@code POST /v1/admin/data-keys/rotate}, {@code snakepit keys rotate-data}).
 *
 * <p>It pages through the sealed store (a cluster-wide listing with the
 * hazelcast adapter, so one node's job covers the cluster) and, session by
 * session, stores a copy whose values sealed with an older key (or in clear,
 * from a file written before encryption) are sealed afresh with the active key,
 * stamps unchanged. Each copy goes through the store's compare-version-and-set
 * update: a write that lands meanwhile makes it read again and retry, so the
 * job never overwrites a concurrent write. One session at a time, so that it
 * takes little from the traffic it runs beside. At most one job runs on a
 * node; its progress is {@link #status()}.
 */
public final class DataKeyRotation {

  private static final Logger LOG = LoggerFactory.getLogger(DataKeyRotation.class);
  private static final int PAGE = 100;
  /** How often one session is retried after a {@code conflict} (busy sessions) before it counts as failed. */
  private static final int CONFLICT_ATTEMPTS = 5;

  private final SealedSessionStore store;
  private final Supplier<Future<DataKeyRing>> refreshKeys;
  private final JsonObject status = new JsonObject().put("state", "idle");

  /**
   * @param store       the sealed store
   * @param refreshKeys reads the key file again now, so a key appended just before the request is the one used
   */
  public DataKeyRotation(SealedSessionStore store, Supplier<Future<DataKeyRing>> refreshKeys) {
    this.store = store;
    this.refreshKeys = refreshKeys;
  }

  /**
   * The job's progress: {@code state} ({@code idle}, {@code running}, {@code done}, {@code failed}),
   * {@code active_key}, {@code total} (the live sessions counted at the start), {@code scanned},
   * {@code resealed} (sessions that held an older key or clear values), {@code unchanged}, {@code gone}
   * (deleted or expired meanwhile), {@code refused} (did not open: see the log), {@code failed}, and
   * {@code started_at}, {@code finished_at} in epoch ms.
   */
  public synchronized JsonObject status() {
    return status.copy();
  }

  /** Starts a job; {@code conflict} if one runs. Completes with the status once it has started. */
  public Future<JsonObject> start() {
    synchronized (this) {
      if ("running".equals(status.getString("state"))) {
        return Future.failedFuture(new SnakepitException(ErrorCode.CONFLICT, "A data-key rotation is already "
            + "running; follow it with GET /v1/admin/data-keys/rotate.", null, status.copy()));
      }
      status.clear().put("state", "running").put("started_at", System.currentTimeMillis()).put("scanned", 0L)
          .put("resealed", 0L).put("unchanged", 0L).put("gone", 0L).put("refused", 0L).put("failed", 0L);
    }
    return refreshKeys.get().compose(ring -> {
      synchronized (this) {
        status.put("active_key", ring.activeId());
      }
      return store.sealedStore().count();
    }).map(total -> {
      synchronized (this) {
        status.put("total", total);
      }
      LOG.info("Data-key rotation started: {} sessions to re-seal with key {}", total, ring().activeId());
      page(null);
      return status();
    }).onFailure(e -> finish("failed", e));
  }

  private DataKeyRing ring() {
    return store.ring();
  }

  private void page(String cursor) {
    store.sealedStore().list(cursor, PAGE).compose(p -> {
      Iterator<String> ids = p.sessions().stream().map(s -> s.id()).toList().iterator();
      Promise<Void> done = Promise.promise();
      next(ids, done);
      return done.future().map(v -> p.nextCursor());
    }).onSuccess(nextCursor -> {
      if (nextCursor == null) {
        finish("done", null);
      } else {
        page(nextCursor);
      }
    }).onFailure(e -> finish("failed", e));
  }

  private void next(Iterator<String> ids, Promise<Void> done) {
    if (!ids.hasNext()) {
      done.complete();
      return;
    }
    reseal(ids.next(), 1).onComplete(ar -> next(ids, done));
  }

  private Future<Void> reseal(String id, int attempt) {
    boolean[] changed = {false};
    return store.sealedStore().update(id, s -> {
      var r = store.resealed(s);
      changed[0] = r != s;
      return r;
    }).<Void>map(s -> {
      count(changed[0] ? "resealed" : "unchanged");
      return null;
    }).recover(e -> {
      ErrorCode code = SnakepitException.from(e).errorCode();
      if (code == ErrorCode.CONFLICT && attempt < CONFLICT_ATTEMPTS) {
        return reseal(id, attempt + 1);
      }
      if (code == ErrorCode.SESSION_NOT_FOUND) {
        count("gone");
      } else if (code == ErrorCode.INTEGRITY_FAILED) {
        count("refused");
      } else {
        LOG.warn("Data-key rotation could not re-seal session '{}': {}", id, e.getMessage());
        count("failed");
      }
      return Future.succeededFuture();
    });
  }

  private synchronized void count(String what) {
    status.put("scanned", status.getLong("scanned") + 1).put(what, status.getLong(what) + 1);
  }

  private void finish(String state, Throwable error) {
    synchronized (this) {
      status.put("state", state).put("finished_at", System.currentTimeMillis());
      if (error != null) {
        status.put("error", SnakepitException.from(error).getMessage());
      }
    }
    LOG.info("Data-key rotation {}: {}", state, status());
  }
}
