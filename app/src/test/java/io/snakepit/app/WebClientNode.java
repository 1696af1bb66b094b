package io.snakepit.app;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.util.concurrent.TimeUnit;

/**
 * A {@link TestNode} with a Vert.x {@link WebClient} pointed at its HTTP API, on
 * a Vert.x of its own, as a separate client application would have. Kept
 * referenced by the test class: a client that is collected closes itself.
 */
final class WebClientNode implements AutoCloseable {

  final TestNode testNode;
  final Vertx clientVertx;
  final WebClient client;

  private WebClientNode(TestNode testNode) {
    this.testNode = testNode;
    this.clientVertx = Vertx.vertx();
    this.client = WebClient.create(clientVertx, new WebClientOptions().setDefaultPort(testNode.node.httpPort())
        .setDefaultHost("127.0.0.1"));
  }

  static WebClientNode start(String nodeId, JsonObject cfg) throws Exception {
    return new WebClientNode(TestNode.start(nodeId, cfg));
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    client.close();
    clientVertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    testNode.close();
  }
}
