package io.snakepit.app.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes the connections that hold a server without using it (issue 12, "hardened HTTP server"):
 * <ul>
 *   <li>over {@link HttpLimits#maxConnections()} open connections, a new one is closed at once;</li>
 *   <li>a connection that has not sent a complete request head within {@link HttpLimits#headerTimeoutMs()} of
 *       connecting is closed, however slowly it trickles bytes in (slowloris);</li>
 *   <li>a connection with no request in flight is closed after between {@link HttpLimits#idleTimeoutS()} and
 *       twice that (one timer per connection, re-armed each period, rather than one per request).</li>
 * </ul>
 *
 * <p>Why here and this way: Vert.x 5 has no setting for a request-head deadline, and its
 * {@code setIdleTimeout} closes a connection whose call is merely slow (a 30 s execute sends nothing meanwhile).
 * Its HTTP server is built on an internal {@code NetServer} whose connect handler is private, so the public
 * hooks are {@link io.vertx.core.http.HttpServer#connectionHandler} and the request handler. The connection
 * handler runs when the connection object exists: at TCP accept for a plain HTTP/1.x pipeline, but only after
 * the first request (or the HTTP/2 preface) when h2c is on, because the h2c upgrade handler buffers the first
 * head before the HTTP/1 pipeline is built (checked against 5.0.7). The HTTP API therefore turns h2c off (it
 * serves HTTP/1.1; gRPC has its own port), and the guard sees every connection from its first byte. The gRPC
 * server needs h2c (prior knowledge), so there the guard applies from the HTTP/2 preface on: the cap and the
 * idle timeout hold, the head deadline covers a client that sends the preface and then nothing; a client that
 * never completes the preface is not seen (see docs/security.md).
 *
 * <p>Everything for one connection runs on its event loop; the open count and the meters are shared.
 */
public final class ConnectionGuard {

  private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
  /** The cap's refusals are logged at most once per this interval, with their count. */
  static final long CAP_LOG_INTERVAL_MS = 60_000;
  /** How long a client may go on sending a body that was refused as too large before its connection closes. */
  static final long BODY_LINGER_MS = 5_000;

  private final Vertx vertx;
  private final String server;
  private final HttpLimits limits;
  private final AtomicInteger open = new AtomicInteger();
  private final Map<HttpConnection, Watch> watches = new ConcurrentHashMap<>();
  private final AtomicLong refusedSinceLog = new AtomicLong();
  private final AtomicLong lastCapLog = new AtomicLong(System.nanoTime() - CAP_LOG_INTERVAL_MS * 1_000_000);
  private final List<Meter> meters = new ArrayList<>();
  private final MeterRegistry registry;
  private final Counter overCap;
  private final Counter headTimeouts;
  private final Counter idleCloses;

  /**
   * A guard for one server.
   *
   * @param server   {@code http} or {@code grpc}: the {@code server} tag of the meters and the name in logs
   * @param registry where the meters go; null for none
   */
  public ConnectionGuard(Vertx vertx, String server, HttpLimits limits, MeterRegistry registry) {
    this.vertx = vertx;
    this.server = server;
    this.limits = limits;
    this.registry = registry;
    if (registry == null) {
      overCap = null;
      headTimeouts = null;
      idleCloses = null;
      return;
    }
    meters.add(Gauge.builder("snakepit.http.connections.open", open, AtomicInteger::get).tag("server", server)
        .description("Open connections of the server").register(registry));
    overCap = closed(registry, "over_cap");
    headTimeouts = closed(registry, "header_timeout");
    idleCloses = closed(registry, "idle");
  }

  private Counter closed(MeterRegistry registry, String reason) {
    Counter c = Counter.builder("snakepit.http.connections.closed").tags("server", server, "reason", reason)
        .description("Connections the server closed to protect itself: over_cap (http.max-connections), "
            + "header_timeout (http.header-timeout-ms), idle (http.idle-timeout-s)")
        .register(registry);
    meters.add(c);
    return c;
  }

  /** The server's connection handler. */
  public void connected(HttpConnection connection) {
    if (open.incrementAndGet() > limits.maxConnections()) {
      open.decrementAndGet();
      count(overCap);
      refusedOverCap();
      connection.close();
      return;
    }
    Watch w = new Watch(connection);
    watches.put(connection, w);
    w.timer = vertx.setTimer(limits.headerTimeoutMs(), id -> {
      if (!w.started) {
        count(headTimeouts);
        connection.close();
      }
    });
    // After the timer is set: on a connection already closed, this runs at once and must cancel it.
    onClose(connection, () -> {
      if (watches.remove(connection) != null) {
        open.decrementAndGet();
        vertx.cancelTimer(w.timer);
      }
    });
  }

  /** Wraps the server's request handler: each request marks its connection as in use. */
  public Handler<HttpServerRequest> requests(Handler<HttpServerRequest> handler) {
    return request -> {
      Watch w = watches.get(request.connection());
      if (w != null) {
        // Pruned here too, so that the list holds what is in flight (one request on HTTP/1.1, the open
        // streams on HTTP/2) and not every request of a busy keep-alive connection's period.
        w.prune();
        w.inFlight.add(request);
        w.active = true;
        if (!w.started) {
          w.started = true;
          vertx.cancelTimer(w.timer);
          w.timer = vertx.setTimer(idleMs(), id -> idleCheck(w));
        }
      }
      handler.handle(request);
    };
  }

  /**
   * Closes the connection of a request that was answered before its body was read (413), once the body is in
   * or after {@link #BODY_LINGER_MS}, whichever comes first. Closing at once would reset the connection under a
   * client still writing the body, which then never reads the answer (seen with a 20 MB body: "connection
   * reset" instead of the 413); reading the rest and dropping it is what a lingering close does.
   */
  public static void closeOnceRead(Vertx vertx, HttpServerRequest request) {
    HttpConnection connection = request.connection();
    if (request.isEnded()) {
      connection.close();
      return;
    }
    long linger = vertx.setTimer(BODY_LINGER_MS, id -> connection.close());
    request.handler(dropped -> { }).exceptionHandler(e -> { }).endHandler(v -> {
      vertx.cancelTimer(linger);
      connection.close();
    });
    request.resume();
  }

  /** Removes the meters from the registry (when the server stops). */
  public void close() {
    if (registry != null) {
      meters.forEach(registry::remove);
    }
    meters.clear();
  }

  private long idleMs() {
    return limits.idleTimeoutS() * 1000;
  }

  /**
   * A connection is closed when it had nothing in flight at the last check and has had nothing since: an
   * answer that ended just before a check keeps the connection one more period.
   */
  private void idleCheck(Watch w) {
    w.prune();
    boolean busy = !w.inFlight.isEmpty();
    if (!busy && !w.active) {
      count(idleCloses);
      w.connection.close();
      return;
    }
    w.active = busy;
    w.timer = vertx.setTimer(idleMs(), id -> idleCheck(w));
  }

  private void refusedOverCap() {
    refusedSinceLog.incrementAndGet();
    long now = System.nanoTime();
    long last = lastCapLog.get();
    if (now - last >= CAP_LOG_INTERVAL_MS * 1_000_000 && lastCapLog.compareAndSet(last, now)) {
      LOG.warn("The {} server is at http.max-connections={}: refused {} new connection(s) since the last such "
          + "message (at most one a minute)", server, limits.maxConnections(), refusedSinceLog.getAndSet(0));
    }
  }

  private static void count(Counter c) {
    if (c != null) {
      c.increment();
    }
  }

  /**
   * Runs {@code action} once the connection has closed. {@link HttpConnection#closeHandler} holds one handler
   * and others set it too (vertx-grpc-health's Watch does, on the gRPC server), so the guard listens on the
   * connection's close future, which takes any number of listeners; that is Vert.x's internal
   * {@code ConnectionBase}, the class of every HTTP connection of Vert.x 5. Should a later version change that,
   * the public handler is the fallback.
   */
  private static void onClose(HttpConnection connection, Runnable action) {
    if (connection instanceof io.vertx.core.net.impl.ConnectionBase base) {
      base.closeFuture().onComplete(ar -> action.run());
    } else {
      connection.closeHandler(v -> action.run());
    }
  }

  /** One connection's state; touched only on its event loop. */
  private static final class Watch {
    final HttpConnection connection;
    final List<HttpServerRequest> inFlight = new ArrayList<>(2);
    boolean started;
    boolean active;
    long timer;

    Watch(HttpConnection connection) {
      this.connection = connection;
    }

    /** Forgets the requests whose answer has ended (or whose stream was reset). */
    void prune() {
      inFlight.removeIf(r -> r.response().ended() || r.response().closed());
    }
  }
}
