package io.snakepit.app;

import io.snakepit.app.grpc.GrpcApiVerticle;
import io.snakepit.app.http.HttpApiVerticle;
import io.snakepit.session.SessionStoreVerticle;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One running node: a Vert.x instance with the supervision, HTTP and gRPC verticles deployed. */
public final class Node {

  private static final Logger LOG = LoggerFactory.getLogger(Node.class);
  /** How long a graceful stop may take before the JVM exits anyway. */
  private static final long CLOSE_TIMEOUT_S = 60;

  private final NodeConfig config;
  private final Vertx vertx;
  private HttpApiVerticle http;
  private GrpcApiVerticle grpc;
  private volatile boolean closed;
  /** Deployment ids, newest first: undeployed in that order so that nothing outlives what it uses. */
  private final java.util.List<String> deployments = new java.util.concurrent.CopyOnWriteArrayList<>();

  public Node(NodeConfig config) {
    this.config = config;
    // The native transport gives Unix domain sockets for the worker protocol; without it, loopback TCP.
    this.vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
  }

  public Vertx vertx() {
    return vertx;
  }

  /** Deploys the verticles; completes when the node can serve. */
  public Future<Void> start() {
    LOG.info("Starting node {} (native transport: {})", config.nodeId(), vertx.isNativeTransportEnabled());
    http = new HttpApiVerticle(config.nodeId(), config.host(), config.httpPort(), config.maxBodyBytes());
    return vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(config.sessions()))
        .compose(id -> {
          deployments.add(0, id);
          return vertx.deployVerticle(new ProcessSupervisorVerticle(),
              new DeploymentOptions().setConfig(config.supervisor()));
        })
        .compose(id -> {
          deployments.add(0, id);
          return vertx.deployVerticle(http, new DeploymentOptions().setConfig(new JsonObject()));
        })
        .compose(id -> {
          deployments.add(0, id);
          grpc = new GrpcApiVerticle(config.host(), config.grpcPort());
          return vertx.deployVerticle(grpc, new DeploymentOptions().setConfig(new JsonObject()));
        })
        .onSuccess(id -> deployments.add(0, id))
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
    try {
      Future<Void> undeployed = Future.succeededFuture();
      for (String id : deployments) {
        undeployed = undeployed.transform(ar -> vertx.undeploy(id));
      }
      undeployed.transform(ar -> vertx.close())
          .toCompletionStage().toCompletableFuture().get(CLOSE_TIMEOUT_S, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.warn("Node did not stop cleanly within {} s: {}", CLOSE_TIMEOUT_S, e.toString());
    }
  }
}
