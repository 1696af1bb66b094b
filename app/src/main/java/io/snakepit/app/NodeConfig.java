package io.snakepit.app;

import io.snakepit.app.http.HealthConfig;
import io.snakepit.app.http.HttpLimits;
import io.snakepit.app.tls.TlsSettings;
import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.snakepit.session.SessionConfig;
import io.snakepit.supervisor.SupervisorConfig;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The node's configuration: one YAML or JSON file, overridden by environment
 * variables and flags (see docs/configuration.md). Validated as a whole before
 * anything starts, so that a typo stops the node with a message naming the key.
 *
 * @param nodeId       this node's id; generated and kept in the data directory when not set
 * @param host         the address the HTTP API binds
 * @param httpPort     the HTTP port; 0 picks a free one
 * @param grpcPort     the gRPC port (same host); 0 picks a free one
 * @param dataDir      where the node keeps its state
 * @param maxBodyBytes the largest HTTP request body accepted
 * @param supervisor   the JSON handed to the process-supervision verticle
 * @param sessions     the JSON handed to the session-storage verticle
 * @param cluster      how the node joins a cluster, if it does
 * @param routing      the JSON handed to the routing verticle
 * @param health       the {@code health} section (validated), handed to the HTTP verticle
 * @param eventLoops   Vert.x event-loop threads; with one, a call never changes threads inside the JVM
 * @param http         the {@code http} section (validated by {@link HttpLimits}), handed to the HTTP and gRPC verticles
 * @param security     the {@code security} section: authentication, rate limits, the audit log
 * @param tls          the {@code tls} section (validated, files checked): TLS of the HTTP and gRPC APIs
 * @param tracing      the {@code tracing} section: OpenTelemetry tracing, off unless it names an endpoint
 */
public record NodeConfig(String nodeId, String host, int httpPort, int grpcPort, Path dataDir, long maxBodyBytes,
                         ClusterSettings cluster, JsonObject routing,
                         JsonObject supervisor, JsonObject sessions, JsonObject health, int eventLoops, JsonObject http,
                         io.snakepit.app.security.SecuritySettings security, TlsSettings tls,
                         io.snakepit.app.tracing.TracingSettings tracing) {

  /** Reads a YAML (.yaml/.yml) or JSON file into a JSON object. */
  public static JsonObject readFile(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException("cannot read configuration file " + file + ": " + e.getMessage());
    }
    String name = file.getFileName().toString();
    if (name.endsWith(".json")) {
      try {
        return new JsonObject(text);
      } catch (DecodeException e) {
        throw new ConfigException(file + " is not valid JSON: " + e.getMessage());
      }
    }
    Object doc;
    try {
      doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    } catch (RuntimeException e) {
      throw new ConfigException(file + " is not valid YAML: " + e.getMessage());
    }
    if (doc == null) {
      return new JsonObject();
    }
    if (!(doc instanceof Map<?, ?> map)) {
      throw new ConfigException(file + " must hold a mapping of configuration keys at its top level");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) map;
    return new JsonObject(m);
  }

  /**
   * Validates a merged configuration object. {@code nodeId} is the id to use when the
   * file sets none (the one kept in the data directory).
   */
  public static NodeConfig fromJson(JsonObject json, String fallbackNodeId) {
    ConfigReader r = new ConfigReader(json, "");
    String nodeId = r.string("node-id", fallbackNodeId);
    String host = r.string("host", "127.0.0.1");
    int port = r.intValue("http-port", 8080, 0, 65535);
    int grpcPort = r.intValue("grpc-port", 9090, 0, 65535);
    String dataDir = r.string("data-dir", "./data");
    long maxBody = r.longValue("max-body-bytes", 1024 * 1024, 1024, 1L << 31);
    String transport = r.string("transport", null);
    Object maxFrame = json.getValue("max-frame-bytes");
    r.has("max-frame-bytes");
    String runDir = r.string("run-dir", null);
    Object checkpoint = json.getValue("checkpoint-interval-s");
    r.has("checkpoint-interval-s");
    JsonObject pools = r.object("pools");
    JsonObject sessions = r.object("sessions");
    ClusterSettings cluster = ClusterSettings.from(r);
    // One loop alone; in a cluster, Vert.x's default: a call there often crosses the network anyway (to its
    // owner, to the session's partition), and heartbeats, Hazelcast's callbacks and forwarded calls want room.
    int eventLoops = r.intValue("event-loops",
        cluster.enabled() ? io.vertx.core.VertxOptions.DEFAULT_EVENT_LOOP_POOL_SIZE : 1, 1, 1024);
    JsonObject routing = r.object("routing");
    JsonObject health = r.object("health");
    JsonObject securityJson = r.object("security");
    JsonObject http = r.object("http");
    JsonObject tls = r.object("tls");
    JsonObject tracingJson = r.object("tracing");
    r.rejectUnknownKeys();
    var security = io.snakepit.app.security.SecuritySettings.fromJson(securityJson, Path.of(dataDir));
    security.checkSafeToListen(host);
    HealthConfig.fromJson(health);
    HttpLimits.fromJson(http);
    TlsSettings tlsSettings = TlsSettings.fromJson(tls);
    var tracing = io.snakepit.app.tracing.TracingSettings.fromJson(tracingJson);
    // In a cluster, sessions are global: the hazelcast adapter is the default there.
    if (cluster.enabled() && !sessions.containsKey("adapter")) {
      sessions = sessions.copy().put("adapter", "hazelcast");
    }
    JsonObject sup = new JsonObject().put("node-id", nodeId).put("data-dir", dataDir).put("pools", pools);
    if (transport != null) {
      sup.put("transport", transport);
    }
    if (maxFrame != null) {
      sup.put("max-frame-bytes", maxFrame);
    }
    if (runDir != null) {
      sup.put("run-dir", runDir);
    }
    if (checkpoint != null) {
      sup.put("checkpoint-interval-s", checkpoint);
    }
    // Validate the supervisor's part now, so every error surfaces before anything starts.
    SupervisorConfig.fromJson(sup);
    JsonObject sess = new JsonObject().put("node-id", nodeId).put("data-dir", dataDir).put("sessions", sessions);
    // The same parser the session-storage verticle starts from: sessions.* (limits, adapter sections) fail here.
    String dataKeyFile = SessionConfig.fromJson(sess).dataKeyFile();
    if (dataKeyFile != null) {
      // Read once here, before anything starts, so that a missing or malformed key file is a configuration error.
      io.snakepit.session.sealing.DataKeyRing.load(Path.of(dataKeyFile));
    }
    validateRouting(routing);
    JsonObject route = routing.copy().put("node-id", nodeId);
    return new NodeConfig(nodeId, host, port, grpcPort, Path.of(dataDir), maxBody, cluster, route, sup, sess,
        health, eventLoops, http, security, tlsSettings, tracing);
  }

  /**
   * Checks {@code routing.*} with the parser {@code RoutingVerticle} uses, so that a
   * mistake stops the node before it joins a cluster. {@code node-id}, {@code http} and
   * the other addresses are not keys of the file: the node sets them.
   */
  static void validateRouting(JsonObject routing) {
    ConfigReader r = new ConfigReader(routing, "routing");
    io.snakepit.routing.RoutingSettings.read(r);
    r.rejectUnknownKeys();
  }

  /**
   * The id kept in {@code <data-dir>/node-id}, created on first start so a restarted node is the same node.
   * Blocking (file I/O).
   *
   * @throws ConfigException when the directory cannot be created or read
   */
  public static String persistentNodeId(Path dataDir) {
    Path file = dataDir.resolve("node-id");
    try {
      if (Files.exists(file)) {
        String id = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (!id.isEmpty()) {
          return id;
        }
      }
      byte[] b = new byte[4];
      new java.security.SecureRandom().nextBytes(b);
      String id = "node-" + java.util.HexFormat.of().formatHex(b);
      Files.createDirectories(dataDir);
      Files.writeString(file, id + "\n", StandardCharsets.UTF_8);
      return id;
    } catch (IOException e) {
      throw new ConfigException("data-dir " + dataDir + " is not usable: " + e.getMessage());
    }
  }
}
