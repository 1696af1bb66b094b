package io.snakepit.app;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * A real node in this JVM with real Python workers, its own temp data dir, and a small HTTP client.
 * Public so that the tests of the HTTP package ({@code io.snakepit.app.http}) can start nodes too.
 */
public final class TestNode implements AutoCloseable {

  public final Node node;
  public final Path dataDir;
  public final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private TestNode(Node node, Path dataDir) {
    this.node = node;
    this.dataDir = dataDir;
  }

  /** Starts a node; {@code cfg} is merged over http-port 0 and a fresh data dir. */
  public static TestNode start(String nodeId, JsonObject cfg) throws Exception {
    Path dir = Files.createTempDirectory("snakepit-" + nodeId + "-");
    JsonObject json = new JsonObject().put("http-port", 0).put("grpc-port", 0).put("data-dir", dir.toString())
        .mergeIn(cfg, true);
    Node node = new Node(NodeConfig.fromJson(json, nodeId));
    try {
      node.start().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      node.close();
      delete(dir);
      throw e;
    }
    return new TestNode(node, dir);
  }

  public String url() {
    return "http://127.0.0.1:" + node.httpPort();
  }

  public HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(30)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  public HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
    return http.send(request(method, path, body).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A JSON request to this node, for tests that add headers of their own before sending it. */
  public HttpRequest.Builder request(String method, String path, String body) {
    return HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
  }

  /** Polls until the condition holds or the deadline passes; never a bare sleep to synchronise. */
  public static void until(String what, Duration deadline, Callable<Boolean> condition) throws Exception {
    long end = System.nanoTime() + deadline.toNanos();
    Exception last = null;
    while (System.nanoTime() < end) {
      try {
        if (Boolean.TRUE.equals(condition.call())) {
          return;
        }
      } catch (Exception e) {
        last = e;
      }
      Thread.sleep(25);
    }
    throw new AssertionError("timed out after " + deadline + " waiting for: " + what
        + (last != null ? " (last error: " + last + ")" : ""));
  }

  @Override
  public void close() throws IOException {
    node.close();
    delete(dataDir);
  }

  public static void delete(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
