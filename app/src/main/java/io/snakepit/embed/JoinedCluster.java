package io.snakepit.embed;

import io.snakepit.client.ClientOptions;
import io.snakepit.client.SnakepitClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * An application's membership of a Snakepit cluster ({@link SnakepitCluster#join}): its clustered Vert.x, on which
 * it deploys its own verticles, and a client of the cluster. {@link #close()} leaves the cluster.
 */
public final class JoinedCluster {

  private final Vertx vertx;
  private final ClientOptions clientOptions;
  private SnakepitClient client;
  private Future<Void> closed;

  JoinedCluster(Vertx vertx, ClientOptions clientOptions) {
    this.vertx = vertx;
    this.clientOptions = clientOptions;
  }

  /** The clustered Vert.x: its event bus reaches every node ({@code snakepit.node.<id>.*}, events). */
  public Vertx vertx() {
    return vertx;
  }

  /**
   * The client of the cluster, the same on every call: it follows the nodes' heartbeats and sends each call
   * straight to the node that owns its session. Its first call waits (up to 5 s) until it has heard the nodes.
   */
  public synchronized SnakepitClient client() {
    // Made on first use: an application that only uses the event bus itself follows no heartbeats.
    if (client == null) {
      client = SnakepitClient.create(vertx, clientOptions);
    }
    return client;
  }

  /**
   * Leaves the cluster: stops the client and closes the Vert.x, whose Hazelcast member then leaves (a lite member:
   * no data moves). Idempotent. Do not wait for it on one of this Vert.x's own threads: they end with it.
   */
  public synchronized Future<Void> close() {
    if (closed == null) {
      if (client != null) {
        client.close();
      }
      closed = vertx.close();
    }
    return closed;
  }
}
