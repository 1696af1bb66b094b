package io.snakepit.embed;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.app.NodeConfig;
import io.snakepit.app.ServingState;
import io.snakepit.app.grpc.GrpcApiVerticle;
import io.snakepit.app.http.HttpApiVerticle;
import io.snakepit.app.security.AccessControl;
import io.snakepit.client.ClientOptions;
import io.snakepit.client.SnakepitClient;
import io.snakepit.contract.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snakepit deployed in a Vert.x ({@link Snakepit#deploy}): its verticles, its Python workers and, when enabled,
 * its HTTP and gRPC servers. {@link #close()} drains and stops them all and leaves that Vert.x running.
 */
public final class SnakepitHandle {

  private static final Logger LOG = LoggerFactory.getLogger(SnakepitHandle.class);
  /** How long the drain before a stop may take (the drain itself bounds each of its steps). */
  private static final long DRAIN_TIMEOUT_MS = 120_000;

  /**
   * The order verticles stop in: the APIs first (no new calls), then the supervisor (calls in flight finish, up
   * to drain-timeout-ms; queued calls fail with shutting_down, which the other nodes' routers retry elsewhere),
   * then the router, whose last heartbeat tells the others the node is gone only once nothing runs here any
   * more, and the session store last.
   */
  static final List<String> STOP_ORDER = List.of("grpc", "http", "dashboard", "supervisor", "routing",
      "sessions");

  final Vertx vertx;
  final NodeConfig config;
  final SnakepitOptions options;
  /** Starting until the router is deployed, stopping once the drain is over; the APIs refuse calls meanwhile. */
  final ServingState servingState;
  /** Deployment ids by verticle; see {@link #STOP_ORDER}. */
  final Map<String, String> deployments = new ConcurrentHashMap<>();
  AccessControl accessControl;
  HttpApiVerticle http;
  GrpcApiVerticle grpc;
  MessageConsumer<JsonObject> stopConsumer;
  /** Whether this deployment registered the metrics backend (a Vert.x not made by Snakepit.createVertx). */
  boolean ownsMetricsBackend;
  private SnakepitClient client;
  private Future<Void> closed;

  SnakepitHandle(Vertx vertx, NodeConfig config, SnakepitOptions options) {
    this.vertx = vertx;
    this.config = config;
    this.options = options;
    this.servingState = ServingState.starting(config.nodeId());
  }

  /** The node id this deployment serves as (in the ring, in events, in {@code ExecuteResult.node()}). */
  public String nodeId() {
    return config.nodeId();
  }

  /** The Vert.x it is deployed in. */
  public Vertx vertx() {
    return vertx;
  }

  /** The port the HTTP API listens on (the one picked, if it was configured as 0); -1 without the HTTP API. */
  public int httpPort() {
    return http == null ? -1 : http.actualPort();
  }

  /** The port the gRPC API listens on; -1 without the gRPC API. */
  public int grpcPort() {
    return grpc == null ? -1 : grpc.actualPort();
  }

  /** Whether it serves calls: starting, serving, or stopping (once {@link #close()} has drained it). */
  public ServingState servingState() {
    return servingState;
  }

  /** The registry its metrics are recorded in. */
  public PrometheusMeterRegistry meterRegistry() {
    return options.meterRegistry();
  }

  /**
   * A client of this deployment over its Vert.x's event bus, with default {@link ClientOptions}; the same instance
   * on every call, closed by {@link #close()}. In a cluster it reaches every node, as any member's client does.
   */
  public synchronized SnakepitClient client() {
    if (client == null) {
      client = SnakepitClient.create(vertx);
    }
    return client;
  }

  /**
   * Drains and stops the deployment: it leaves the cluster's ring and hands its sessions' Python state off
   * (clustered), calls in flight finish, the APIs stop, then the workers stop, and the audit log closes. The
   * Vert.x stays up: the application closes it when it wants to. Idempotent: every call returns the same future,
   * which fails only if an undeploy failed (the rest is still stopped).
   */
  public synchronized Future<Void> close() {
    if (closed == null) {
      closed = stop();
    }
    return closed;
  }

  private Future<Void> stop() {
    LOG.info("Stopping node {}", config.nodeId());
    if (client != null) {
      client.close();
    }
    // Drain: leave the ring and hand the sessions' Python state off, while everything still runs. Without a
    // router (a deploy that failed part way) there is nothing to drain.
    Future<Void> done = deployments.containsKey("routing")
        ? vertx.eventBus().request(Addresses.DRAIN, new JsonObject(),
            new DeliveryOptions().setSendTimeout(DRAIN_TIMEOUT_MS)).<Void>mapEmpty().recover(t -> {
              LOG.warn("Drain before stop failed: {}", t.toString());
              return Future.<Void>succeededFuture();
            })
        : Future.succeededFuture();
    // The drain is over (calls went on meanwhile); from now on the APIs answer shutting_down.
    done = done.onComplete(v -> servingState.stopping());
    Throwable[] failure = new Throwable[1];
    for (String name : STOP_ORDER) {
      String id = deployments.remove(name);
      if (id != null) {
        done = done.transform(ar -> vertx.undeploy(id).onComplete(u -> {
          LOG.debug("Undeployed {}: {}", name, u.succeeded() ? "ok" : u.cause());
          if (u.failed() && failure[0] == null) {
            failure[0] = u.cause();
          }
        }).recover(t -> Future.succeededFuture()));
      }
    }
    return done.transform(ar -> {
      Future<Void> last = stopConsumer == null ? Future.succeededFuture() : stopConsumer.unregister();
      if (accessControl != null) {
        var ac = accessControl;
        last = last.transform(u -> {
          ac.stop();
          ac.audit().record("node.stop", null, null, config.host(), "ok", null);
          return ac.audit().close();
        });
      }
      return last.transform(u -> {
        if (ownsMetricsBackend) {
          io.vertx.micrometer.backends.BackendRegistries.stop(options.metricsRegistryName());
        }
        return failure[0] == null ? Future.<Void>succeededFuture() : Future.<Void>failedFuture(failure[0]);
      });
    });
  }
}
