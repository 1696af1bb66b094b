package io.snakepit.app;

import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code snakepit run}: starts a node and keeps it running until SIGTERM or SIGINT. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Start a node.")
public final class RunCommand implements Callable<Integer> {

  /** Exit code for a configuration the node refuses. */
  public static final int EXIT_CONFIG = 2;
  /** Exit code for a node that could not start. */
  public static final int EXIT_START = 3;

  @Option(names = "--config", defaultValue = "${env:SNAKEPIT_CONFIG}",
      description = "YAML or JSON configuration file (env SNAKEPIT_CONFIG).")
  Path config;

  // SNAKEPIT_HTTP_PORT, SNAKEPIT_GRPC_PORT, SNAKEPIT_HOST and SNAKEPIT_DATA_DIR arrive through EnvironmentOverrides,
  // like every other key, so that the order is always file < environment < --set < flag.
  @Option(names = "--http-port",
      description = "HTTP port; 0 picks a free one (env SNAKEPIT_HTTP_PORT, default 8080).")
  Integer httpPort;

  @Option(names = "--grpc-port",
      description = "gRPC port; 0 picks a free one (env SNAKEPIT_GRPC_PORT, default 9090).")
  Integer grpcPort;

  @Option(names = "--host",
      description = "Address to bind (env SNAKEPIT_HOST, default 127.0.0.1).")
  String host;

  @Option(names = "--data-dir",
      description = "Directory for the node's state (env SNAKEPIT_DATA_DIR, default ./data).")
  String dataDir;

  @Option(names = "--pool-size", defaultValue = "${env:SNAKEPIT_POOL_SIZE}",
      description = "Workers in the default pool (env SNAKEPIT_POOL_SIZE, default 2 x cores).")
  Integer poolSize;

  @Option(names = "--adapter", defaultValue = "${env:SNAKEPIT_ADAPTER}",
      description = "Adapter of the default pool, MODULE:CLASS or MODULE (env SNAKEPIT_ADAPTER).")
  String adapter;

  @Option(names = "--cluster", description = "Join a cluster (Hazelcast and the clustered event bus; env SNAKEPIT_CLUSTER).")
  Boolean cluster;

  @Option(names = "--cluster-host", description = "Address Hazelcast and the event bus bind and advertise "
      + "(env SNAKEPIT_CLUSTER_HOST, default 127.0.0.1).")
  String clusterHost;

  @Option(names = "--cluster-port", description = "Hazelcast's port (env SNAKEPIT_CLUSTER_PORT, default 5701).")
  Integer clusterPort;

  @Option(names = "--members", paramLabel = "HOST:PORT,...",
      description = "Members to join through (env SNAKEPIT_CLUSTER_MEMBERS).")
  String members;

  @Option(names = "--cluster-dns", paramLabel = "NAME",
      description = "A DNS name resolving to every member, e.g. a Kubernetes headless service, to join through "
          + "instead of --members (env SNAKEPIT_CLUSTER_DNS).")
  String clusterDns;

  @Option(names = "--bus-port", description = "Port of the clustered event bus (env SNAKEPIT_BUS_PORT, default: any).")
  Integer busPort;

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "PEM certificate chain: the HTTP and gRPC APIs speak TLS (env SNAKEPIT_TLS__CERT).")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE",
      description = "PEM private key of --tls-cert (env SNAKEPIT_TLS__KEY).")
  String tlsKey;

  @Option(names = "--tls-client-ca", paramLabel = "FILE",
      description = "PEM CA certificates: clients must present a certificate signed by one (mutual TLS; "
          + "env SNAKEPIT_TLS__CLIENT_CA).")
  String tlsClientCa;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Sets any configuration key, e.g. --set pools.default.max-rss-mb=512 (repeatable).")
  java.util.List<String> sets = new java.util.ArrayList<>();

  @Option(names = "--log-format", defaultValue = "${env:SNAKEPIT_LOG_FORMAT:-text}",
      description = "text (default) or json: one JSON object per log line (env SNAKEPIT_LOG_FORMAT).")
  String logFormat;

  /** The environment overrides come from; tests replace it. */
  java.util.Map<String, String> environment = System.getenv();

  @Override
  public Integer call() {
    if (!"text".equalsIgnoreCase(logFormat) && !"json".equalsIgnoreCase(logFormat)) {
      System.err.println("snakepit: configuration error: --log-format must be text or json, got " + logFormat);
      return EXIT_CONFIG;
    }
    // Read by logback.xml; set before the first logger exists.
    System.setProperty("SNAKEPIT_LOG_FORMAT", logFormat.toUpperCase());
    NodeConfig cfg;
    try {
      cfg = resolve();
    } catch (ConfigException e) {
      System.err.println("snakepit: configuration error: " + e.getMessage());
      return EXIT_CONFIG;
    }
    Node node = new Node(cfg);
    // POST /v1/admin/drain ends the process like SIGTERM: the shutdown hook below drains and closes the node.
    // A new thread, because exit waits for that hook, which waits for the event loop asking.
    node.onStopRequested(() -> new Thread(() -> System.exit(0), "snakepit-exit").start());
    try {
      node.start().toCompletionStage().toCompletableFuture().join();
    } catch (RuntimeException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      System.err.println("snakepit: the node could not start: " + cause.getMessage());
      node.close();
      // Snakepit's entry points refuse a bad configuration with bad_request (a ConfigException inside the node).
      boolean config = cause instanceof ConfigException || cause instanceof io.snakepit.contract.SnakepitException se
          && se.errorCode() == io.snakepit.contract.ErrorCode.BAD_REQUEST;
      return config ? EXIT_CONFIG : EXIT_START;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "snakepit-shutdown"));
    exitZeroOnSigterm();
    System.out.println("snakepit: ready http=" + cfg.host() + ":" + node.httpPort()
        + " grpc=" + cfg.host() + ":" + node.grpcPort() + " node=" + cfg.nodeId());
    System.out.flush();
    return 0;
  }

  /**
   * Makes SIGTERM end the process as {@code POST /v1/admin/drain} does: the shutdown hook drains and closes the
   * node, then the process exits with status 0. The JVM's own handler exits with 143 (128 + SIGTERM) after the
   * same hooks, which {@code docker stop}, Compose and Kubernetes report as a failure although the node drained
   * cleanly. Where the JDK has no {@code sun.misc.Signal} (jdk.unsupported), the JVM's handler stays: the same
   * drain, status 143.
   */
  private static void exitZeroOnSigterm() {
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("TERM"),
          sig -> new Thread(() -> System.exit(0), "snakepit-exit").start());
    } catch (IllegalArgumentException | UnsupportedOperationException | LinkageError e) {
      System.err.println("snakepit: SIGTERM keeps the JVM's handler (exit status 143 after the drain): " + e);
    }
  }

  /** Merges file, environment and flags (flags win), and validates the result. */
  NodeConfig resolve() {
    JsonObject json = config == null ? new JsonObject() : NodeConfig.readFile(config);
    EnvironmentOverrides.applyEnvironment(json, environment);
    for (String s : sets) {
      EnvironmentOverrides.applySet(json, s);
    }
    if (httpPort != null) {
      json.put("http-port", httpPort);
    }
    if (cluster != null) {
      json.put("cluster", cluster);
    }
    if (clusterHost != null) {
      json.put("cluster-host", clusterHost);
    }
    if (clusterPort != null) {
      json.put("cluster-port", clusterPort);
    }
    if (members != null) {
      json.put("cluster-members", members);
    }
    if (clusterDns != null) {
      json.put("cluster-dns", clusterDns);
    }
    if (busPort != null) {
      json.put("bus-port", busPort);
    }
    if (grpcPort != null) {
      json.put("grpc-port", grpcPort);
    }
    if (host != null) {
      json.put("host", host);
    }
    if (dataDir != null) {
      json.put("data-dir", dataDir);
    }
    if (tlsCert != null || tlsKey != null || tlsClientCa != null) {
      JsonObject tls = json.getValue("tls") instanceof JsonObject t ? t : new JsonObject();
      putIfSet(tls, "cert", tlsCert);
      putIfSet(tls, "key", tlsKey);
      putIfSet(tls, "client-ca", tlsClientCa);
      json.put("tls", tls);
    }
    if (poolSize != null || adapter != null) {
      Object poolsValue = json.getValue("pools");
      JsonObject pools = poolsValue instanceof JsonObject p ? p : new JsonObject();
      String target = pools.containsKey("default") || pools.isEmpty() ? "default"
          : pools.fieldNames().iterator().next();
      Object poolValue = pools.getValue(target);
      JsonObject pool = poolValue instanceof JsonObject p ? p : new JsonObject();
      if (poolSize != null) {
        pool.put("size", poolSize);
      }
      if (adapter != null) {
        pool.put("adapter", adapter);
      }
      pools.put(target, pool);
      json.put("pools", pools);
    }
    String dir = json.getValue("data-dir") instanceof String s ? s : "./data";
    String nodeId = json.getValue("node-id") instanceof String s ? s : NodeConfig.persistentNodeId(Path.of(dir));
    return NodeConfig.fromJson(json, nodeId);
  }

  private static void putIfSet(JsonObject o, String key, String value) {
    if (value != null) {
      o.put(key, value);
    }
  }
}
