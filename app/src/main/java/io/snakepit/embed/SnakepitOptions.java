package io.snakepit.embed;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.snakepit.app.NodeConfig;
import io.snakepit.config.ConfigException;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.Objects;
import java.util.UUID;

/**
 * What {@link Snakepit#deploy} deploys: the node's configuration, as the same keys a node's YAML or JSON file
 * holds ({@code pools}, {@code sessions}, {@code security}, {@code cluster-*}, ...; see docs/configuration.md),
 * set from a file or a JSON object, or one key at a time.
 *
 * <pre>{@code
 * SnakepitOptions options = new SnakepitOptions()
 *     .setDataDir(Path.of("/var/lib/myapp/snakepit"))
 *     .set("pools.default.adapter", "my_tools:Tools")
 *     .set("pools.default.size", 4)
 *     .setHttpApi(false).setGrpcApi(false);          // only the event bus: SnakepitHandle.client()
 * }</pre>
 *
 * <p>The configuration is validated as a whole when it is first used by {@link Snakepit#deploy} or
 * {@link Snakepit#createVertx}: a mistake fails that future with a {@link SnakepitException} of code
 * {@link ErrorCode#BAD_REQUEST} whose message names the key. From then on the options belong to that deployment
 * and refuse changes (build new ones for another).
 */
public final class SnakepitOptions {

  private final JsonObject config;
  private boolean httpApi = true;
  private boolean grpcApi = true;
  private PrometheusMeterRegistry meterRegistry;
  private volatile io.snakepit.app.tracing.NodeTracing tracing;
  private Runnable stopRequested;
  /** The name Vert.x Micrometer knows the registry by; unique, so that deployments in one JVM stay apart. */
  private final String metricsRegistryName = "snakepit-" + UUID.randomUUID();
  /** A configuration validated already ({@link #of}): its keys are not set one by one. */
  private NodeConfig preset;
  /** Set once the configuration has been validated; the options are then frozen. */
  private NodeConfig resolved;

  /** Empty options: a node with its defaults (docs/configuration.md), its data in {@code ./data}. */
  public SnakepitOptions() {
    this(new JsonObject());
  }

  private SnakepitOptions(JsonObject config) {
    this.config = config;
  }

  /** Options from a configuration object with a node file's keys; the object is copied. */
  public static SnakepitOptions fromJson(JsonObject config) {
    return new SnakepitOptions(Objects.requireNonNull(config, "config").copy());
  }

  /**
   * Options from a node's configuration file, YAML ({@code .yaml}, {@code .yml}) or JSON ({@code .json}).
   * Blocking: call it before Vert.x starts, or in {@code executeBlocking}.
   *
   * @throws SnakepitException {@code bad_request} when the file cannot be read or parsed
   */
  public static SnakepitOptions fromFile(Path file) {
    try {
      return new SnakepitOptions(NodeConfig.readFile(file));
    } catch (ConfigException e) {
      throw invalid(e);
    }
  }

  /** Options of a node whose configuration is already validated (what {@code snakepit run} starts). */
  public static SnakepitOptions of(NodeConfig config) {
    SnakepitOptions o = new SnakepitOptions(new JsonObject());
    o.preset = Objects.requireNonNull(config, "config");
    return o;
  }

  /**
   * Sets one key, by its dotted path in the configuration file: {@code set("pools.default.size", 4)},
   * {@code set("sessions.adapter", "memory")}. Objects on the path are created as needed.
   */
  public SnakepitOptions set(String path, Object value) {
    unfrozen();
    if (preset != null) {
      throw new IllegalStateException(
          "these options hold a validated NodeConfig; set keys on SnakepitOptions.fromJson");
    }
    String[] keys = Objects.requireNonNull(path, "path").split("\\.");
    JsonObject at = config;
    for (int i = 0; i < keys.length - 1; i++) {
      JsonObject next = at.getValue(keys[i]) instanceof JsonObject o ? o : null;
      if (next == null) {
        next = new JsonObject();
        at.put(keys[i], next);
      }
      at = next;
    }
    at.put(keys[keys.length - 1], value);
    return this;
  }

  /** This node's id ({@code node-id}); by default, the one kept in the data directory, made on first start. */
  public SnakepitOptions setNodeId(String nodeId) {
    return set("node-id", nodeId);
  }

  /** Where the node keeps its state ({@code data-dir}; default {@code ./data}): sessions, worker records, ids. */
  public SnakepitOptions setDataDir(Path dataDir) {
    return set("data-dir", dataDir.toString());
  }

  /** The address the HTTP and gRPC APIs bind ({@code host}; default 127.0.0.1). */
  public SnakepitOptions setHost(String host) {
    return set("host", host);
  }

  /** The HTTP API's port ({@code http-port}; default 8080); 0 picks a free one ({@link SnakepitHandle#httpPort()}). */
  public SnakepitOptions setHttpPort(int port) {
    return set("http-port", port);
  }

  /** The gRPC API's port ({@code grpc-port}; default 9090); 0 picks a free one. */
  public SnakepitOptions setGrpcPort(int port) {
    return set("grpc-port", port);
  }

  /** Whether to serve the HTTP API (default true); without it, the node is reached over the event bus only. */
  public SnakepitOptions setHttpApi(boolean enabled) {
    unfrozen();
    this.httpApi = enabled;
    return this;
  }

  /** Whether to serve the gRPC API (default true). */
  public SnakepitOptions setGrpcApi(boolean enabled) {
    unfrozen();
    this.grpcApi = enabled;
    return this;
  }

  /**
   * The registry the node records its {@code snakepit_*} metrics in (and, with {@link Snakepit#createVertx},
   * Vert.x's own), served at {@code GET /metrics}; by default a new one, tagged {@code node=<id>}.
   */
  public SnakepitOptions setMeterRegistry(PrometheusMeterRegistry registry) {
    unfrozen();
    this.meterRegistry = Objects.requireNonNull(registry, "registry");
    return this;
  }

  /**
   * What a client's {@code POST /v1/admin/drain} does. By default the deployment closes itself
   * ({@link SnakepitHandle#close()}) and leaves the application's Vert.x running. Runs on an event loop: must not
   * block.
   */
  public SnakepitOptions onStopRequested(Runnable action) {
    unfrozen();
    this.stopRequested = Objects.requireNonNull(action, "action");
    return this;
  }

  /** A copy of the configuration keys set so far (not the defaults). */
  public JsonObject toJson() {
    return config.copy();
  }

  boolean httpApi() {
    return httpApi;
  }

  boolean grpcApi() {
    return grpcApi;
  }

  Runnable stopRequested() {
    return stopRequested;
  }

  /**
   * The OpenTelemetry SDK that {@link Snakepit#createVertx} started for the {@code tracing} section, which the
   * Vert.x it made traces with; null when tracing is off, or before that Vert.x is made (docs/tracing.md).
   */
  public io.opentelemetry.api.OpenTelemetry openTelemetry() {
    io.snakepit.app.tracing.NodeTracing t = tracing;
    return t == null ? null : t.openTelemetry();
  }

  /** The tracing SDK {@link Snakepit#createVertx} started; null when off. */
  io.snakepit.app.tracing.NodeTracing tracing() {
    return tracing;
  }

  void tracing(io.snakepit.app.tracing.NodeTracing started) {
    this.tracing = started;
  }

  String metricsRegistryName() {
    return metricsRegistryName;
  }

  /**
   * The validated configuration; the first call validates and freezes the options. Blocking (it reads the node
   * id, key and certificate files): the entry points run it off the event loop.
   */
  synchronized NodeConfig resolve() {
    if (resolved == null && preset != null) {
      resolved = preset;
    }
    if (resolved == null) {
      try {
        String dir = config.getValue("data-dir") instanceof String s ? s : "./data";
        String nodeId = config.getValue("node-id") instanceof String s ? s : NodeConfig.persistentNodeId(Path.of(dir));
        resolved = NodeConfig.fromJson(config.copy(), nodeId);
      } catch (ConfigException e) {
        throw invalid(e);
      }
    }
    if (meterRegistry == null) {
      meterRegistry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      meterRegistry.config().commonTags("node", resolved.nodeId());
    }
    return resolved;
  }

  /** The registry, once {@link #resolve()} has run. */
  synchronized PrometheusMeterRegistry meterRegistry() {
    resolve();
    return meterRegistry;
  }

  private synchronized void unfrozen() {
    if (resolved != null) {
      throw new IllegalStateException("these options are in use by a deployment; build new ones for another");
    }
  }


  static SnakepitException invalid(ConfigException e) {
    return new SnakepitException(ErrorCode.BAD_REQUEST, "Snakepit's configuration is refused: " + e.getMessage()
        + " (fix it as docs/configuration.md and docs/embedding.md say, then deploy again)");
  }
}
