package io.snakepit.embed;

import io.snakepit.app.ClusterConfig;
import io.snakepit.app.NodeConfig;
import io.snakepit.app.dashboard.DashboardVerticle;
import io.snakepit.app.grpc.GrpcApiVerticle;
import io.snakepit.app.http.HttpApiVerticle;
import io.snakepit.app.security.AccessControl;
import io.snakepit.app.security.AuditLog;
import io.snakepit.app.tracing.NodeTracing;
import io.snakepit.config.ConfigException;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.routing.RoutingVerticle;
import io.snakepit.session.SessionStoreVerticle;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.backends.BackendRegistries;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs Snakepit inside an application's own Vert.x: the same verticles, Python workers and (optionally) HTTP and
 * gRPC APIs that {@code snakepit run} starts, which is itself {@link #createVertx} then {@link #deploy}.
 *
 * <pre>{@code
 * Vertx vertx = Vertx.vertx();
 * Snakepit.deploy(vertx, new SnakepitOptions().setDataDir(Path.of("data")).setHttpApi(false).setGrpcApi(false))
 *     .compose(snakepit -> snakepit.client().execute("echo", new JsonObject().put("x", 1))
 *         .onSuccess(r -> System.out.println(r.result()))
 *         .eventually(snakepit::close));
 * }</pre>
 *
 * See docs/embedding.md.
 */
public final class Snakepit {

  private static final Logger LOG = LoggerFactory.getLogger(Snakepit.class);
  /** How long a closing Vert.x waits for the last spans to be exported. */
  private static final long TRACING_CLOSE_MS = 5_000;

  private Snakepit() {
  }

  /**
   * Deploys Snakepit in {@code vertx}, in this order: session storage, process supervision (the Python workers),
   * the live cluster page's feed, the HTTP and gRPC APIs when enabled, and routing last, so that a clustered node
   * joins the ring only once everything it serves with is up. The future completes when it serves calls, with the handle that stops it.
   * If a step fails, what was deployed is stopped again and the future fails; the Vert.x stays up either way.
   *
   * <p>Refused with a {@link SnakepitException} of code {@code bad_request} when the options are not a valid
   * configuration, or when {@code cluster} disagrees with {@code vertx}: a clustered node needs a Vert.x clustered
   * with Snakepit's Hazelcast configuration ({@link #createVertx}), and a clustered Vert.x serves the cluster, so
   * its options must say {@code cluster: true}.
   */
  public static Future<SnakepitHandle> deploy(Vertx vertx, SnakepitOptions options) {
    Objects.requireNonNull(vertx, "vertx");
    Objects.requireNonNull(options, "options");
    // Resolving reads files (node id, keys, certificates): off the event loop.
    return vertx.executeBlocking(options::resolve, false).compose(config -> {
      if (config.cluster().enabled() != vertx.isClustered()) {
        return Future.failedFuture(new SnakepitException(ErrorCode.BAD_REQUEST, config.cluster().enabled()
            ? "The options say cluster: true, but this Vert.x is not clustered; create it with "
                + "Snakepit.createVertx(options), which joins the cluster with Snakepit's Hazelcast configuration"
            : "This Vert.x is clustered, but the options do not say cluster: true; set cluster (and cluster-name, "
                + "cluster-members) as the other nodes have them, or deploy in a Vert.x that is not clustered"));
      }
      SnakepitHandle handle = new SnakepitHandle(vertx, config, options);
      registerMetrics(handle);
      return guard(handle).compose(v -> deployVerticles(handle))
          .<SnakepitHandle>map(v -> handle)
          .recover(t -> handle.close().transform(ar -> Future.failedFuture(t)));
    });
  }

  /**
   * A Vert.x made the way a node makes its own: native transport when available, Micrometer metrics into the
   * options' registry, {@code event-loops} loops and, with {@code cluster: true}, clustered through Hazelcast
   * (config/cluster.xml, {@code cluster-*} keys) with the event bus on {@code cluster-host}, over mutual TLS when
   * {@code cluster-tls-*} are set. Pass the same options to {@link #deploy} next. The application closes it.
   */
  public static Future<Vertx> createVertx(SnakepitOptions options) {
    Objects.requireNonNull(options, "options");
    // Blocking preparation (files, name resolution) on a thread of its own: there is no Vert.x to lend one yet.
    CompletableFuture<Future<Vertx>> built = CompletableFuture.supplyAsync(() -> build(options),
        r -> new Thread(r, "snakepit-create-vertx").start());
    return Future.fromCompletionStage(built).compose(f -> f);
  }

  private static Future<Vertx> build(SnakepitOptions options) {
    try {
      NodeConfig config = options.resolve();
      MicrometerMetricsOptions metrics = new MicrometerMetricsOptions().setEnabled(true).setJvmMetricsEnabled(true)
          .setRegistryName(options.metricsRegistryName());
      // One event loop by default: the HTTP and gRPC servers, the router, the supervisor (all worker I/O) and the
      // session store then share a thread, so a call crosses no thread inside the JVM, only to its Python worker
      // and back. The supervisor runs on one loop whatever the count; more loops add room for HTTP parsing and
      // the cluster's traffic (docs/configuration.md, docs/benchmarks.md). The native transport gives Unix
      // domain sockets for the worker protocol; without it, loopback TCP.
      VertxOptions vx = new VertxOptions().setPreferNativeTransport(true).setMetricsOptions(metrics)
          .setEventLoopPoolSize(config.eventLoops());
      VertxBuilder builder = Vertx.builder();
      NodeTracing tracing = null;
      if (config.tracing().enabled()) {
        tracing = NodeTracing.start(config.tracing(), config.nodeId());
        options.tracing(tracing);
        builder = tracing.installIn(builder, vx);
        LOG.info("Tracing: spans go to {} (sampling rate {})", config.tracing().tracesUrl(),
            config.tracing().samplingRate());
      } else {
        // Tracing off (the default): no tracer at all, so Vert.x skips every tracing hook (docs/tracing.md).
        builder = builder.with(vx);
      }
      builder = builder.withMetrics(new MicrometerMetricsFactory(options.meterRegistry()));
      Future<Vertx> built;
      if (!config.cluster().enabled()) {
        built = Future.succeededFuture(builder.build());
      } else {
        String address = config.cluster().hostAddress();
        ClusterBus.configure(vx.getEventBusOptions(), address, config.cluster().busPort(),
            config.cluster().busTls());
        built = builder.withClusterManager(new HazelcastClusterManager(ClusterConfig.hazelcast(config, address)))
            .buildClustered();
      }
      return tracing == null ? built : closingWith(built, tracing);
    } catch (ConfigException e) {
      return Future.failedFuture(SnakepitOptions.invalid(e));
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  /**
   * Ties the tracing SDK to the Vert.x it traces: closed when that Vert.x closes (its buffered spans exported,
   * the drain's and the stop's among them), or at once when the Vert.x could not be made.
   */
  private static Future<Vertx> closingWith(Future<Vertx> built, NodeTracing tracing) {
    return built.onFailure(t -> tracing.close(1000)).map(v -> {
      // A close hook runs on a Vert.x thread; exporting blocks, so it runs on a thread of its own.
      ((VertxInternal) v).addCloseHook(completion -> new Thread(() -> {
        try {
          tracing.close(TRACING_CLOSE_MS);
        } finally {
          completion.succeed();
        }
      }, "snakepit-tracing-close").start());
      return v;
    });
  }

  /**
   * Makes the registry known to Vert.x Micrometer under the options' name, which {@code GET /metrics} and the
   * servers' connection gauges look it up by, when the Vert.x was not made by {@link #createVertx}.
   */
  private static void registerMetrics(SnakepitHandle h) {
    String name = h.options.metricsRegistryName();
    if (BackendRegistries.getNow(name) == null) {
      BackendRegistries.setupBackend(new MicrometerMetricsOptions().setEnabled(true).setRegistryName(name),
          h.options.meterRegistry());
      h.ownsMetricsBackend = true;
    }
  }

  /** Opens the audit log and loads the keys; records the start with the security settings. */
  private static Future<Void> guard(SnakepitHandle h) {
    NodeConfig config = h.config;
    var security = config.security();
    return AuditLog.open(h.vertx, security.auditLog(), config.nodeId())
        .compose(audit -> AccessControl.start(h.vertx, security, audit).onFailure(t -> audit.close()))
        .map(ac -> {
          h.accessControl = ac;
          ac.audit().record("node.start", null, null, config.host(), "ok", new JsonObject()
              .put("http_port", h.options.httpApi() ? config.httpPort() : null)
              .put("grpc_port", h.options.grpcApi() ? config.grpcPort() : null)
              .put("api_keys", security.apiKeysFile() != null).put("jwt", security.jwt() != null)
              .put("insecure", security.insecure()).put("rate_limits", security.rateLimits().any())
              .put("tls", config.tls().enabled()).put("mutual_tls", config.tls().mutual())
              .put("cluster", config.cluster().enabled()).put("bus_tls", config.cluster().busTls() != null)
              .put("data_encryption", config.sessions().getJsonObject("sessions", new JsonObject())
                  .containsKey("encryption")));
          if (!security.authenticationEnabled() && (h.options.httpApi() || h.options.grpcApi())) {
            LOG.warn("No authentication is configured: anyone who reaches {} runs any tool and reads every session "
                + "(security.insecure: {}); see docs/security.md", config.host(), security.insecure());
          }
          return null;
        });
  }

  private static Future<Void> deployVerticles(SnakepitHandle h) {
    NodeConfig config = h.config;
    Vertx vertx = h.vertx;
    h.stopConsumer = vertx.eventBus().<JsonObject>localConsumer(Addresses.STOP, m -> {
      LOG.info("Stop requested over the API (correlation id {})", m.headers().get(Headers.CORRELATION_ID));
      m.reply(new JsonObject().put("node", config.nodeId()).put("stopping", true));
      Runnable action = h.options.stopRequested();
      if (action != null) {
        action.run();
      } else {
        h.close();
      }
    });
    String registry = h.options.metricsRegistryName();
    return vertx.deployVerticle(new SessionStoreVerticle(h.options.meterRegistry()),
            new DeploymentOptions().setConfig(config.sessions()))
        .compose(id -> {
          h.deployments.put("sessions", id);
          ProcessSupervisorVerticle supervisor = new ProcessSupervisorVerticle(h.options.meterRegistry());
          NodeTracing tracing = h.options.tracing();
          if (tracing != null) {
            // The worker's span and the ones Python reports (docs/tracing.md).
            supervisor.tracedBy(tracing.tracer());
          }
          return vertx.deployVerticle(supervisor, new DeploymentOptions().setConfig(config.supervisor()));
        })
        .compose(id -> {
          h.deployments.put("supervisor", id);
          // The live cluster page's figures and events (docs/dashboard.md): before the API that streams them.
          return vertx.deployVerticle(new DashboardVerticle(config.nodeId(), h.options.meterRegistry()));
        })
        .compose(id -> {
          h.deployments.put("dashboard", id);
          return h.options.httpApi() ? deployHttp(h, registry) : Future.succeededFuture();
        })
        .compose(v -> h.options.grpcApi() ? deployGrpc(h, registry) : Future.succeededFuture())
        .compose(v -> {
          // Last: a node joins the ring only once everything it serves with is up.
          JsonObject routing = config.routing().copy();
          if (h.http != null) {
            routing.put("http", config.host() + ":" + h.http.actualPort());
          }
          if (h.grpc != null) {
            routing.put("grpc", config.host() + ":" + h.grpc.actualPort());
          }
          if (vertx.isClustered()) {
            // What GET /v1/cluster shows an operator: where this node's Hazelcast member and event bus listen.
            var bus = ((io.vertx.core.internal.VertxInternal) vertx).clusterManager().getNodeInfo();
            routing.put("cluster", config.cluster().host() + ":" + config.cluster().port())
                .put("bus", bus.host() + ":" + bus.port());
          }
          return vertx.deployVerticle(new RoutingVerticle(), new DeploymentOptions().setConfig(routing));
        })
        .onSuccess(id -> {
          h.deployments.put("routing", id);
          h.servingState.serving();
        })
        .mapEmpty();
  }

  /** The HTTP API; it listens before the router is deployed, and answers starting (503) until it is. */
  private static Future<Void> deployHttp(SnakepitHandle h, String registry) {
    NodeConfig config = h.config;
    h.http = new HttpApiVerticle(config.nodeId(), config.host(), config.httpPort(), config.maxBodyBytes(),
        h.servingState).guardedBy(h.accessControl);
    if (config.cluster().enabled()) {
      // Ready only once this node is in its own ring, i.e. it has joined and announced itself.
      h.http.addReadinessCheck("cluster", (vx, timeoutMs) -> vx.eventBus().<JsonObject>request(
              Addresses.CLUSTER_VIEW, new JsonObject(), new DeliveryOptions().setSendTimeout(timeoutMs))
          .map(m -> {
            boolean in = m.body().getJsonArray("ring").contains(config.nodeId());
            JsonObject r = new JsonObject().put("ok", in).put("ring", m.body().getJsonArray("ring"));
            return in ? r : r.put("reason", "this node is not in the cluster's ring yet");
          }));
    }
    return h.vertx.deployVerticle(h.http, new DeploymentOptions().setConfig(new JsonObject()
            .put("health", config.health()).put("http", config.http()).put("metrics-registry", registry)
            .put("tls", config.tls().toJson())))
        .map(id -> {
          h.deployments.put("http", id);
          return null;
        });
  }

  private static Future<Void> deployGrpc(SnakepitHandle h, String registry) {
    NodeConfig config = h.config;
    h.grpc = new GrpcApiVerticle(config.host(), config.grpcPort(), h.servingState).guardedBy(h.accessControl);
    return h.vertx.deployVerticle(h.grpc, new DeploymentOptions().setConfig(new JsonObject()
            .put("http", config.http()).put("metrics-registry", registry).put("tls", config.tls().toJson())))
        .map(id -> {
          h.deployments.put("grpc", id);
          return null;
        });
  }
}
