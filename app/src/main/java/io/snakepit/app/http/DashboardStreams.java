package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code GET /v1/dashboard/stream}: the live cluster page's server-sent events (docs/dashboard.md). A stream
 * starts with one {@code snapshot} event ({@code {"figures", "events"}}), then sends {@code figures} every
 * {@link #FIGURES_MS} and each shown {@code event} as it arrives, with a comment line every
 * {@link #HEARTBEAT_MS} so that proxies and the page know the connection still lives. Everything comes from
 * the node's dashboard feed over the event bus ({@link Addresses#DASHBOARD}, {@link Addresses#DASHBOARD_EVENTS}).
 *
 * <p>A node serves at most {@link #MAX_STREAMS} at once (each asks for figures every second; the feed shares
 * one gathering between them, but each still costs a connection and its writes); past them, {@code 503
 * overloaded}. A client that cannot keep up (its write queue full) is closed rather than buffered for: the
 * page opens a new stream, which starts with a fresh snapshot.
 */
final class DashboardStreams {

  static final int MAX_STREAMS = 32;
  static final long FIGURES_MS = 1_000;
  static final long HEARTBEAT_MS = 15_000;
  /** How long the first snapshot may take: the feed asks every node, each within its own deadline. */
  private static final long SNAPSHOT_TIMEOUT_MS = 5_000;

  private final Vertx vertx;
  private final Set<Stream> open = new HashSet<>();

  DashboardStreams(Vertx vertx) {
    this.vertx = vertx;
  }

  /** The route's handler. */
  void open(RoutingContext ctx) {
    if (open.size() >= MAX_STREAMS) {
      HttpApiVerticle.fail(ctx, new SnakepitException(ErrorCode.OVERLOADED, "This node already serves "
          + MAX_STREAMS + " dashboard streams; close one, or open the page on another node of the cluster."));
      return;
    }
    Stream s = new Stream(ctx);
    open.add(s);
    s.start();
  }

  /** Ends every open stream: the API is stopping. */
  void closeAll() {
    List.copyOf(open).forEach(Stream::close);
  }

  /** How many streams are open. */
  int openCount() {
    return open.size();
  }

  private final class Stream {
    private final RoutingContext ctx;
    private final HttpServerResponse response;
    private MessageConsumer<JsonObject> events;
    private long figuresTimer = -1;
    private long heartbeatTimer = -1;
    private boolean asking;
    private boolean closed;

    Stream(RoutingContext ctx) {
      this.ctx = ctx;
      this.response = ctx.response();
    }

    void start() {
      // Closed by the client (the page's tab, a reload) or by the network: stop everything this stream holds.
      response.closeHandler(v -> close());
      response.exceptionHandler(t -> close());
      // Subscribed before the snapshot is asked, so that no event falls between the two; events that arrive
      // before the snapshot is written wait for it.
      java.util.List<JsonObject> early = new java.util.ArrayList<>();
      events = vertx.eventBus().localConsumer(Addresses.DASHBOARD_EVENTS, m -> {
        if (response.headWritten()) {
          write("event", m.body());
        } else {
          early.add(m.body());
        }
      });
      vertx.eventBus().<JsonObject>request(Addresses.DASHBOARD, new JsonObject().put("op", "snapshot"),
          options(SNAPSHOT_TIMEOUT_MS)).onComplete(ar -> {
            if (closed) {
              return;
            }
            if (ar.failed()) {
              close();
              HttpApiVerticle.fail(ctx, SnakepitException.from(ar.cause()));
              return;
            }
            response.setChunked(true).putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no");
            write("snapshot", ar.result().body());
            early.forEach(e -> write("event", e));
            figuresTimer = vertx.setPeriodic(FIGURES_MS, t -> figures());
            heartbeatTimer = vertx.setPeriodic(HEARTBEAT_MS, t -> {
              if (!closed) {
                response.write(": heartbeat\n\n");
              }
            });
          });
    }

    private void figures() {
      if (asking || closed) {
        return; // the last ask is still out (a slow node): one at a time per stream
      }
      asking = true;
      vertx.eventBus().<JsonObject>request(Addresses.DASHBOARD, new JsonObject().put("op", "figures"),
          options(SNAPSHOT_TIMEOUT_MS)).map(Message::body).onComplete(ar -> {
            asking = false;
            if (ar.succeeded()) {
              write("figures", ar.result());
            }
          });
    }

    private void write(String event, JsonObject data) {
      if (closed) {
        return;
      }
      if (response.writeQueueFull()) {
        // A client this far behind gets no more: it reconnects and starts again from a snapshot.
        release();
        response.reset();
        return;
      }
      response.write("event: " + event + "\ndata: " + data.encode() + "\n\n");
    }

    /** Ends the stream: the client went, or the API stops. */
    void close() {
      if (release() && response.headWritten() && !response.ended() && !response.closed()) {
        response.end();
      }
    }

    /** Lets go of what the stream holds; false when it already had. */
    private boolean release() {
      if (closed) {
        return false;
      }
      closed = true;
      open.remove(this);
      vertx.cancelTimer(figuresTimer);
      vertx.cancelTimer(heartbeatTimer);
      if (events != null) {
        events.unregister();
      }
      return true;
    }

    private DeliveryOptions options(long timeoutMs) {
      return new DeliveryOptions().setSendTimeout(timeoutMs).addHeader(Headers.CORRELATION_ID,
          ctx.get(HttpApiVerticle.CID));
    }
  }
}
