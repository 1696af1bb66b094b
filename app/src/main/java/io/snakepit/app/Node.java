package io.snakepit.app;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.embed.Snakepit;
import io.snakepit.embed.SnakepitHandle;
import io.snakepit.embed.SnakepitOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running node: a Vert.x of its own ({@link Snakepit#createVertx}, clustered through Hazelcast when
 * configured) with Snakepit deployed in it ({@link Snakepit#deploy}), the same entry points an application that
 * embeds Snakepit uses. {@link #close()} drains the deployment, then closes the Vert.x.
 */
public final class Node {

  private static final Logger LOG = LoggerFactory.getLogger(Node.class);
  /** How long a graceful stop may take before the JVM exits anyway. */
  private static final long CLOSE_TIMEOUT_S = 60;

  private final NodeConfig config;
  private final SnakepitOptions options;
  private volatile Vertx vertx;
  private volatile SnakepitHandle handle;
  private volatile boolean closed;

  /** What a stop asked over the API ({@code POST /v1/admin/drain}) does; by default, {@link #close()}. */
  private volatile Runnable stopRequested = () -> new Thread(this::close, "snakepit-stop").start();

  public Node(NodeConfig config) {
    this.config = config;
    this.options = SnakepitOptions.of(config).onStopRequested(() -> stopRequested.run());
  }

  /**
   * Sets what happens when a client asks the node to drain and stop
   * ({@code POST /v1/admin/drain}). The default closes the node on a new
   * thread; the launcher exits the JVM instead, which closes the node through
   * its shutdown hook, exactly as SIGTERM does. Runs on a Vert.x thread: must not block.
   */
  public void onStopRequested(Runnable action) {
    this.stopRequested = java.util.Objects.requireNonNull(action);
  }

  /** Whether the node serves calls: starting, serving or stopping. */
  public ServingState servingState() {
    SnakepitHandle h = handle;
    return h == null ? ServingState.starting(config.nodeId()) : h.servingState();
  }

  /** The node's OpenTelemetry SDK while it traces; null when {@code tracing.endpoint} is not set. */
  public io.opentelemetry.api.OpenTelemetry openTelemetry() {
    return options.openTelemetry();
  }

  /** The node's Vert.x, once started. */
  public Vertx vertx() {
    return vertx;
  }

  /** The registry the node's metrics are recorded in. */
  public PrometheusMeterRegistry meterRegistry() {
    return handle != null ? handle.meterRegistry() : null;
  }

  /** Starts Vert.x (joining the cluster when configured) and deploys the verticles; completes when it can serve. */
  public Future<Void> start() {
    return Snakepit.createVertx(options).compose(v -> {
      vertx = v;
      LOG.info("Starting node {} (native transport: {}, clustered: {})", config.nodeId(),
          v.isNativeTransportEnabled(), v.isClustered());
      return Snakepit.deploy(v, options);
    }).map(h -> {
      handle = h;
      return null;
    });
  }

  /** The port the HTTP API listens on. */
  public int httpPort() {
    return handle.httpPort();
  }

  /** The port the gRPC API listens on. */
  public int grpcPort() {
    return handle.grpcPort();
  }

  /** Stops gracefully: gRPC and HTTP first, then workers drain and stop. Blocks until done or timed out. */
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (vertx == null) {
      return;
    }
    // Both futures are waited for on this thread, not in a callback on one of Vert.x's event loops: the future of
    // a close started on an event loop never completes, as that loop is gone.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CLOSE_TIMEOUT_S);
    try {
      try {
        if (handle != null) {
          handle.close().toCompletionStage().toCompletableFuture().get(CLOSE_TIMEOUT_S, TimeUnit.SECONDS);
        }
      } finally {
        long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        vertx.close().toCompletionStage().toCompletableFuture().get(left, TimeUnit.MILLISECONDS);
      }
    } catch (Exception e) {
      LOG.warn("Node did not stop cleanly within {} s: {}", CLOSE_TIMEOUT_S, e.toString());
    }
  }
}
