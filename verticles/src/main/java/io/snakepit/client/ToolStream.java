package io.snakepit.client;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.BytePaths;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.contract.StreamLiveness;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayDeque;
import java.util.UUID;

/**
 * The items of one streaming call as a Vert.x {@link ReadStream}. Credit goes
 * back to the worker only for items handed to the handler, so while the
 * stream is paused the worker sends at most {@code window} items and then
 * waits with its generator suspended: backpressure reaches Python.
 * Setting the handler to null after the start cancels the call.
 *
 * <p>All state lives on the context the stream was created on.
 */
final class ToolStream implements ReadStream<Object> {

  private final Vertx vertx;
  private final Context context;
  private final JsonObject call;
  private final String correlationId;
  private final int window;
  private final ArrayDeque<Object> pending = new ArrayDeque<>();
  private Handler<Object> handler;
  private Handler<Void> endHandler;
  private Handler<Throwable> exceptionHandler;
  private MessageConsumer<JsonObject> sink;
  private String control;
  private long demand = Long.MAX_VALUE;
  private int consumed;
  private boolean started;
  private boolean upstreamEnded;
  private boolean finished;
  private SnakepitException failure;
  private final StreamLiveness liveness;
  private String node;

  private final java.util.function.Supplier<Future<String>> openAddress;

  ToolStream(Vertx vertx, JsonObject call, String correlationId, int window,
             java.util.function.Supplier<Future<String>> openAddress) {
    this.openAddress = openAddress;
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.call = call;
    this.correlationId = correlationId != null ? correlationId : Headers.newCorrelationId();
    this.window = window;
    this.liveness = new StreamLiveness(vertx, () -> {
      if (!finished) {
        fail(StreamLiveness.silence(node, this.correlationId));
        sendControl(new JsonObject().put("cancel", true));
      }
    });
  }

  @Override
  public ReadStream<Object> handler(Handler<Object> h) {
    onContext(() -> {
      handler = h;
      if (h != null && !started) {
        start();
      } else if (h == null && started && !finished) {
        cancel();
      }
    });
    return this;
  }

  @Override
  public ReadStream<Object> exceptionHandler(Handler<Throwable> h) {
    exceptionHandler = h;
    return this;
  }

  @Override
  public ReadStream<Object> endHandler(Handler<Void> h) {
    endHandler = h;
    return this;
  }

  /** Runs at once on the stream's context (so a handler's pause() takes effect before the next item), else hops. */
  private void onContext(Runnable r) {
    if (Vertx.currentContext() == context) {
      r.run();
    } else {
      context.runOnContext(v -> r.run());
    }
  }

  @Override
  public ReadStream<Object> pause() {
    onContext(() -> demand = 0);
    return this;
  }

  @Override
  public ReadStream<Object> resume() {
    return fetch(Long.MAX_VALUE);
  }

  @Override
  public ReadStream<Object> fetch(long amount) {
    onContext(() -> {
      demand = amount == Long.MAX_VALUE || demand + amount < 0 ? Long.MAX_VALUE : demand + amount;
      drain();
    });
    return this;
  }

  private void start() {
    started = true;
    String sinkAddress = "snakepit.client.sink." + UUID.randomUUID();
    // A cluster-wide consumer: the call may run on another node.
    sink = vertx.eventBus().consumer(sinkAddress, liveness.sink(this::onEvent));
    JsonObject open = call.copy().put("sink", sinkAddress).put("credit", window);
    DeliveryOptions opts = new DeliveryOptions().addHeader(Headers.CORRELATION_ID, correlationId);
    sink.completion()
        .compose(v -> openAddress.get())
        .compose(address -> vertx.eventBus().<JsonObject>request(address, open, BytePaths.mark(opts, open)))
        .onComplete(ar -> {
          if (ar.failed()) {
            fail(SnakepitException.from(ar.cause()).withCorrelationId(correlationId));
          } else {
            control = ar.result().body().getString("control");
            liveness.opened(ar.result().body()); // a no-op once the stream has finished
            if (finished) {
              sendControl(new JsonObject().put("cancel", true));
            } else {
              grant(true);
            }
          }
        });
  }

  private void onEvent(JsonObject ev) {
    if (finished || ev == null) {
      return;
    }
    switch (ev.getString("type", "")) {
      case "item" -> {
        Object item = ev.getValue("item");
        pending.add(item == null ? NULL : item);
      }
      case "end" -> upstreamEnded = true;
      case "error" -> failure = SnakepitException.fromJson(ev.getJsonObject("error", new JsonObject()));
      case "start" -> node = ev.getString("node", "");
      default -> {
        // "alive" and unknown types carry nothing to deliver
      }
    }
    drain();
  }

  /** Stands for a null item in the queue (ArrayDeque takes no nulls). */
  private static final Object NULL = new Object();

  private boolean draining;

  private void drain() {
    // A handler that calls fetch() re-enters here; the running loop picks its demand up.
    if (draining) {
      return;
    }
    draining = true;
    try {
      drainLoop();
    } finally {
      draining = false;
    }
  }

  private void drainLoop() {
    while (!finished && demand > 0 && !pending.isEmpty()) {
      Object item = pending.poll();
      if (demand != Long.MAX_VALUE) {
        demand--;
      }
      consumed++;
      Handler<Object> h = handler;
      if (h != null) {
        h.handle(item == NULL ? null : item);
      }
      grant(false);
    }
    if (!finished && pending.isEmpty()) {
      if (failure != null) {
        fail(failure);
      } else if (upstreamEnded) {
        finish();
        if (endHandler != null) {
          endHandler.handle(null);
        }
      }
    }
  }

  /** Returns credit for consumed items, in batches of half a window to save messages. */
  private void grant(boolean force) {
    if (control != null && consumed > 0 && (force || consumed >= Math.max(1, window / 2))) {
      sendControl(new JsonObject().put("credit", consumed));
      consumed = 0;
    }
  }

  private void cancel() {
    finish();
    sendControl(new JsonObject().put("cancel", true));
  }

  private void fail(SnakepitException e) {
    if (finished) {
      return;
    }
    finish();
    if (exceptionHandler != null) {
      exceptionHandler.handle(e);
    }
  }

  private void finish() {
    finished = true;
    liveness.stop();
    pending.clear();
    if (sink != null) {
      sink.unregister();
    }
  }

  private void sendControl(JsonObject msg) {
    if (control != null) {
      vertx.eventBus().send(control, msg);
    }
  }
}
