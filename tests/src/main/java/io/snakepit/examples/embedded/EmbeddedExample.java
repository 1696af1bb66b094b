package io.snakepit.examples.embedded;

import io.snakepit.client.ExecuteResult;
import io.snakepit.client.SnakepitClient;
import io.snakepit.embed.Snakepit;
import io.snakepit.embed.SnakepitHandle;
import io.snakepit.embed.SnakepitOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * Snakepit deployed in an application's own Vert.x (docs/embedding.md): its Python workers run the application's
 * tools, and the application's verticles call them over the local event bus. No HTTP or gRPC server is started.
 *
 * <p>Run: {@code java -cp <the app's class path> io.snakepit.examples.embedded.EmbeddedExample [DATA_DIR]}.
 * Prints one line with the tool's answer and exits 0; {@code EmbeddingExamplesTest} runs it so.
 */
public final class EmbeddedExample {

  private EmbeddedExample() {
  }

  public static void main(String[] args) {
    Path dataDir = Path.of(args.length > 0 ? args[0] : "snakepit-data");
    Vertx vertx = Vertx.vertx();
    SnakepitOptions options = new SnakepitOptions()
        .setDataDir(dataDir)
        .set("pools.default.size", 1)          // the built-in demo adapter; set pools.default.adapter for yours
        .setHttpApi(false)
        .setGrpcApi(false);
    int status = 1;
    try {
      // A main thread may wait with await(); code on an event loop composes the futures instead.
      SnakepitHandle snakepit = Snakepit.deploy(vertx, options).await();
      try {
        vertx.deployVerticle(new Greeter()).await();
        status = 0;
      } finally {
        snakepit.close().await();              // drains, stops the workers; the Vert.x stays up
      }
    } catch (RuntimeException e) {
      System.err.println("embedded example failed: " + e);
    } finally {
      vertx.close().await();
    }
    System.exit(status);
  }

  /** A verticle of the application: it runs a Python tool as it starts. */
  static final class Greeter extends VerticleBase {

    @Override
    public Future<?> start() {
      SnakepitClient client = SnakepitClient.create(vertx);
      return client.execute("echo", new JsonObject().put("greeting", "hello from the JVM"))
          .onSuccess((ExecuteResult r) -> System.out.println("echo answered " + r.result().toString()
              + " on node " + r.node() + " (worker " + r.worker() + ")"));
    }
  }
}
