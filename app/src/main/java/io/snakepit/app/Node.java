package io.snakepit.app;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.app.grpc.GrpcApiVerticle;
import io.snakepit.app.http.HttpApiVerticle;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.Headers;
import io.snakepit.routing.RoutingVerticle;
import io.snakepit.session.SessionStoreVerticle;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running node: a Vert.x instance (clustered through Hazelcast when
 * configured) with its verticles deployed, in this order: session storage
 * ({@link SessionStoreVerticle}), process supervision
 * ({@link ProcessSupervisorVerticle}), the HTTP and gRPC APIs, and routing
 * ({@link RoutingVerticle}) last, so that the node joins the ring only once
 * everything it serves with is up. {@link #close()} stops them in
 * {@link #STOP_ORDER}.
 */
public final class Node {

  private static final Logger LOG = LoggerFactory.getLogger(Node.class);
  /** How long a graceful stop may take before the JVM exits anyway. */
  private static final long CLOSE_TIMEOUT_S = 60;

  private final NodeConfig config;
  private Vertx vertx;
  /** Where the node's metrics live (Vert.x's own and snakepit_*), served at /metrics. */
  private final PrometheusMeterRegistry meterRegistry;
  /** The name under which Vert.x Micrometer knows that registry; unique, so nodes in one JVM stay apart. */
  private final String metricsRegistryName;
  /** The node's OpenTelemetry SDK when {@code tracing.endpoint} is set; null (nothing installed) otherwise. */
  private io.snakepit.app.tracing.NodeTracing tracing;
  private HttpApiVerticle http;
  private GrpcApiVerticle grpc;
  /** Starting until the router is deployed, stopping once the drain is over; the APIs refuse calls meanwhile. */
  private final ServingState servingState;
  private volatile boolean closed;
  /** Tokens, roles, rate limits and the audit log of both APIs (docs/security.md). */
  private io.snakepit.app.security.AccessControl accessControl;
  /** Deployment ids by verticle; see {@link #close()} for the order they stop in. */
  private final java.util.Map<String, String> deployments = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * The order verticles stop in: the APIs first (no new calls), then the
   * supervisor (calls in flight finish, up to drain-timeout-ms; queued calls
   * fail with shutting_down, which the other nodes' routers retry elsewhere),
   * then the router, whose last heartbeat tells the others the node is gone
   * only once nothing runs here any more, and the session store last.
   */
  private static final java.util.List<String> STOP_ORDER = java.util.List.of("grpc", "http", "supervisor",
      "routing", "sessions");

  /** What a stop asked over the API ({@code POST /v1/admin/drain}) does; by default, {@link #close()}. */
  private volatile Runnable stopRequested = () -> new Thread(this::close, "snakepit-stop").start();

  /**
   * Sets what happens when a client asks the node to drain and stop
   * ({@code POST /v1/admin/drain}). The default closes the node on a new
   * thread; the launcher exits the JVM instead, which closes the node through
   * its shutdown hook, exactly as SIGTERM does. Runs on a Vert.x thread: must not block.
   */
  public void onStopRequested(Runnable action) {
    this.stopRequested = java.util.Objects.requireNonNull(action);
  }

  public Node(NodeConfig config) {
    this.config = config;
    this.meterRegistry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.meterRegistry.config().commonTags("node", config.nodeId());
    this.metricsRegistryName = "snakepit-" + config.nodeId() + "-" + java.util.UUID.randomUUID();
    this.servingState = ServingState.starting(config.nodeId());
  }

  /** Whether the node serves calls: starting, serving or stopping. */
  public ServingState servingState() {
    return servingState;
  }

  /** The node's Vert.x, once started. */
  public Vertx vertx() {
    return vertx;
  }

  /** The node's OpenTelemetry SDK while it traces; null when {@code tracing.endpoint} is not set. */
  public io.opentelemetry.api.OpenTelemetry openTelemetry() {
    return tracing == null ? null : tracing.openTelemetry();
  }

  /** The registry the node's metrics are recorded in. */
  public PrometheusMeterRegistry meterRegistry() {
    return meterRegistry;
  }

  /** Starts Vert.x (joining the cluster when configured) and deploys the verticles; completes when it can serve. */
  public Future<Void> start() {
    // The native transport gives Unix domain sockets for the worker protocol; without it, loopback TCP.
    MicrometerMetricsOptions metrics = new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true)
        .setRegistryName(metricsRegistryName);
    // One event loop by default: the HTTP and gRPC servers, the router, the supervisor (all worker I/O) and the
    // session store then share a thread, so a call crosses no thread inside the JVM, only to its Python worker
    // and back. The supervisor runs on one loop whatever the count; more loops add room for HTTP parsing and
    // the cluster's traffic (docs/configuration.md, docs/benchmarks.md).
    VertxOptions options = new VertxOptions().setPreferNativeTransport(true).setMetricsOptions(metrics)
        .setEventLoopPoolSize(config.eventLoops());
    ClusterSettings cluster = config.cluster();
    // Tracing off (the default): no tracer at all, so Vert.x skips every tracing hook (docs/tracing.md).
    io.vertx.core.VertxBuilder builder = Vertx.builder();
    if (config.tracing().enabled()) {
      tracing = io.snakepit.app.tracing.NodeTracing.start(config.tracing(), config.nodeId());
      builder = tracing.installIn(builder, options);
      LOG.info("Tracing: spans go to {} (sampling rate {})", config.tracing().tracesUrl(),
          config.tracing().samplingRate());
    } else {
      builder = builder.with(options);
    }
    Future<Vertx> started;
    if (cluster.enabled()) {
      String address = cluster.hostAddress();
      options.getEventBusOptions().setHost(address).setPort(cluster.busPort()).setClusterPublicHost(address);
      if (cluster.busTls() != null) {
        // Mutual TLS between nodes: each presents its certificate and accepts only peers signed by the CA, so a
        // process without such a certificate can neither send on this node's bus nor receive from it.
        io.snakepit.app.tls.PemCredentials bus = cluster.busTls().read();
        options.getEventBusOptions().setSsl(true).setKeyCertOptions(bus.keyCert()).setTrustOptions(bus.trust())
            .setClientAuth(io.vertx.core.http.ClientAuth.REQUIRED);
        LOG.info("The event bus speaks mutual TLS (certificate serial {})", bus.serial());
      }
      started = builder.withMetrics(new MicrometerMetricsFactory(meterRegistry))
          .withClusterManager(new HazelcastClusterManager(ClusterConfig.hazelcast(config, address))).buildClustered();
    } else {
      started = Future.succeededFuture(builder.withMetrics(new MicrometerMetricsFactory(meterRegistry)).build());
    }
    return started.compose(v -> {
      vertx = v;
      LOG.info("Starting node {} (native transport: {}, clustered: {})", config.nodeId(),
          vertx.isNativeTransportEnabled(), vertx.isClustered());
      return guard().compose(g -> deploy());
    });
  }

  /** Opens the audit log and loads the keys; records the node's start with its security settings. */
  private Future<Void> guard() {
    var security = config.security();
    return io.snakepit.app.security.AuditLog.open(vertx, security.auditLog(), config.nodeId())
        .compose(audit -> io.snakepit.app.security.AccessControl.start(vertx, security, audit)
            .onFailure(t -> audit.close()))
        .map(ac -> {
          accessControl = ac;
          ac.audit().record("node.start", null, null, config.host(), "ok", new JsonObject()
              .put("http_port", config.httpPort()).put("grpc_port", config.grpcPort())
              .put("api_keys", security.apiKeysFile() != null).put("jwt", security.jwt() != null)
              .put("insecure", security.insecure()).put("rate_limits", security.rateLimits().any())
              .put("tls", config.tls().enabled()).put("mutual_tls", config.tls().mutual())
              .put("cluster", config.cluster().enabled()).put("bus_tls", config.cluster().busTls() != null)
              .put("data_encryption", config.sessions().getJsonObject("sessions", new JsonObject())
                  .containsKey("encryption")));
          if (!security.authenticationEnabled()) {
            LOG.warn("No authentication is configured: anyone who reaches {} runs any tool and reads every session "
                + "(security.insecure: {}); see docs/security.md", config.host(), security.insecure());
          }
          return null;
        });
  }

  private Future<Void> deploy() {
    vertx.eventBus().<JsonObject>localConsumer(Addresses.STOP, m -> {
      LOG.info("Stop requested over the API (correlation id {})", m.headers().get(Headers.CORRELATION_ID));
      m.reply(new JsonObject().put("node", config.nodeId()).put("stopping", true));
      stopRequested.run();
    });
    // The APIs listen before the router is deployed, and answer starting (503, UNAVAILABLE) until it is.
    http = new HttpApiVerticle(config.nodeId(), config.host(), config.httpPort(), config.maxBodyBytes(),
        servingState).guardedBy(accessControl);
    if (config.cluster().enabled()) {
      // Ready only once this node is in its own ring, i.e. it has joined and announced itself.
      http.addReadinessCheck("cluster", (vx, timeoutMs) -> vx.eventBus().<JsonObject>request(Addresses.CLUSTER_VIEW,
              new JsonObject(), new DeliveryOptions().setSendTimeout(timeoutMs))
          .map(m -> {
            boolean in = m.body().getJsonArray("ring").contains(config.nodeId());
            JsonObject r = new JsonObject().put("ok", in).put("ring", m.body().getJsonArray("ring"));
            return in ? r : r.put("reason", "this node is not in the cluster's ring yet");
          }));
    }
    return vertx.deployVerticle(new SessionStoreVerticle(meterRegistry),
            new DeploymentOptions().setConfig(config.sessions()))
        .compose(id -> {
          deployments.put("sessions", id);
          ProcessSupervisorVerticle supervisor = new ProcessSupervisorVerticle(meterRegistry);
          if (tracing != null) {
            supervisor.tracedBy(tracing.tracer());
          }
          return vertx.deployVerticle(supervisor,
              new DeploymentOptions().setConfig(config.supervisor()));
        })
        .compose(id -> {
          deployments.put("supervisor", id);
          return vertx.deployVerticle(http, new DeploymentOptions().setConfig(new JsonObject()
              .put("health", config.health()).put("http", config.http()).put("metrics-registry", metricsRegistryName)
              .put("tls", config.tls().toJson())));
        })
        .compose(id -> {
          deployments.put("http", id);
          grpc = new GrpcApiVerticle(config.host(), config.grpcPort(), servingState).guardedBy(accessControl);
          return vertx.deployVerticle(grpc, new DeploymentOptions().setConfig(new JsonObject()
              .put("http", config.http()).put("metrics-registry", metricsRegistryName)
              .put("tls", config.tls().toJson())));
        })
        .compose(id -> {
          deployments.put("grpc", id);
          // Last: a node joins the ring only once everything it serves with is up.
          JsonObject routing = config.routing().copy().put("http", config.host() + ":" + http.actualPort())
              .put("grpc", config.host() + ":" + grpc.actualPort());
          if (vertx.isClustered()) {
            // What GET /v1/cluster shows an operator: where this node's Hazelcast member and event bus listen.
            var bus = ((io.vertx.core.internal.VertxInternal) vertx).clusterManager().getNodeInfo();
            routing.put("cluster", config.cluster().host() + ":" + config.cluster().port())
                .put("bus", bus.host() + ":" + bus.port());
          }
          return vertx.deployVerticle(new RoutingVerticle(), new DeploymentOptions().setConfig(routing));
        })
        .onSuccess(id -> {
          deployments.put("routing", id);
          servingState.serving();
        })
        .mapEmpty();
  }

  /** The port the HTTP API listens on. */
  public int httpPort() {
    return http.actualPort();
  }

  /** The port the gRPC API listens on. */
  public int grpcPort() {
    return grpc.actualPort();
  }

  /** Stops gracefully: gRPC and HTTP first, then workers drain and stop. Blocks until done or timed out. */
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    LOG.info("Stopping node {}", config.nodeId());
    if (vertx == null) {
      if (tracing != null) {
        tracing.close(1000); // a start that failed before Vert.x was up
      }
      return;
    }
    try {
      // Drain: leave the ring and hand the sessions' Python state off, while everything still runs.
      Future<Void> undeployed = vertx.eventBus().request(Addresses.DRAIN, new JsonObject(),
              new DeliveryOptions().setSendTimeout(120_000))
          .<Void>mapEmpty().recover(t -> {
            LOG.warn("Drain before stop failed: {}", t.toString());
            return Future.<Void>succeededFuture();
          }).map(v -> {
            // The drain is over (calls went on meanwhile); from now on the APIs answer shutting_down.
            servingState.stopping();
            return v;
          });
      for (String name : STOP_ORDER) {
        String id = deployments.get(name);
        if (id == null) {
          continue; // a start that failed part way
        }
        undeployed = undeployed.transform(ar -> vertx.undeploy(id)
            .onComplete(u -> LOG.debug("Undeployed {}: {}", name, u.succeeded() ? "ok" : u.cause())));
      }
      if (accessControl != null) {
        var ac = accessControl;
        undeployed = undeployed.transform(ar -> {
          ac.stop();
          ac.audit().record("node.stop", null, null, config.host(), "ok", null);
          return ac.audit().close();
        });
      }
      // vertx.close() is called from this thread, not from a callback on one of Vert.x's event loops:
      // the future of a close started on an event loop never completes, as that loop is gone.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CLOSE_TIMEOUT_S);
      try {
        undeployed.toCompletionStage().toCompletableFuture().get(CLOSE_TIMEOUT_S, TimeUnit.SECONDS);
      } finally {
        long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        try {
          vertx.close().toCompletionStage().toCompletableFuture().get(left, TimeUnit.MILLISECONDS);
        } finally {
          if (tracing != null) {
            // Last: the spans of the drain and the stop are exported too.
            tracing.close(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
          }
        }
      }
    } catch (Exception e) {
      LOG.warn("Node did not stop cleanly within {} s: {}", CLOSE_TIMEOUT_S, e.toString());
    }
  }
}
