package io.snakepit.app.http;

import io.snakepit.app.TestNode;
import io.snakepit.app.security.KeysFile;
import io.snakepit.app.security.Role;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A real node with a keys file holding one key per role (and the scoped and second-caller keys the tests need),
 * for the security tests of the HTTP and gRPC APIs.
 */
public final class SecuredNode implements AutoCloseable {

  /** Key names: one per role, a second caller, and a caller limited to the echo tool. */
  public static final String CALLER = "alice";
  public static final String OTHER_CALLER = "bob";
  public static final String READER = "rd";
  public static final String OPERATOR = "op";
  public static final String ADMIN = "adm";
  public static final String ECHO_ONLY = "echo-only";

  public final TestNode node;
  public final Path keysFile;
  public final Map<String, String> keys;

  private SecuredNode(TestNode node, Path keysFile, Map<String, String> keys) {
    this.node = node;
    this.keysFile = keysFile;
    this.keys = keys;
  }

  /** Starts a node whose {@code security} section is {@code security} plus the keys file. */
  public static SecuredNode start(String nodeId, JsonObject security, JsonObject more) throws Exception {
    Path dir = Files.createTempDirectory("snakepit-keys-");
    Path file = dir.resolve("keys.json");
    Map<String, String> keys = new LinkedHashMap<>();
    JsonArray entries = new JsonArray();
    add(entries, keys, CALLER, Role.CALLER, Set.of());
    add(entries, keys, OTHER_CALLER, Role.CALLER, Set.of());
    add(entries, keys, READER, Role.READER, Set.of());
    add(entries, keys, OPERATOR, Role.OPERATOR, Set.of());
    add(entries, keys, ADMIN, Role.ADMIN, Set.of());
    add(entries, keys, ECHO_ONLY, Role.CALLER, Set.of("echo"));
    KeysFile.write(file, new JsonObject().put("keys", entries));
    JsonObject cfg = new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)))
        .put("security", security.copy().put("api-keys-file", file.toString()).put("reload-interval-ms", 100))
        .mergeIn(more, true);
    try {
      return new SecuredNode(TestNode.start(nodeId, cfg), file, keys);
    } catch (Exception e) {
      TestNode.delete(dir);
      throw e;
    }
  }

  private static void add(JsonArray entries, Map<String, String> keys, String name, Role role, Set<String> tools) {
    String key = KeysFile.newKey();
    keys.put(name, key);
    entries.add(KeysFile.entry(name, role, key, Set.of(), tools));
  }

  /** Sends a request as {@code keyName} (null: no token). */
  public HttpResponse<String> send(String keyName, String method, String path, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = node.request(method, path, body);
    if (keyName != null) {
      b.header("Authorization", "Bearer " + keys.get(keyName));
    }
    return node.http.send(b.build(), SecuredNode::bodyOrFirstEvent);
  }

  /**
   * The body as a string; for a server-sent event stream (which does not end), its first event, after which
   * the stream is cancelled.
   */
  static HttpResponse.BodySubscriber<String> bodyOrFirstEvent(HttpResponse.ResponseInfo info) {
    if (!info.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
      return HttpResponse.BodySubscribers.ofString(java.nio.charset.StandardCharsets.UTF_8);
    }
    return new HttpResponse.BodySubscriber<>() {
      private final java.util.concurrent.CompletableFuture<String> body = new java.util.concurrent.CompletableFuture<>();
      private final StringBuilder text = new StringBuilder();
      private java.util.concurrent.Flow.Subscription subscription;

      @Override
      public java.util.concurrent.CompletionStage<String> getBody() {
        return body;
      }

      @Override
      public void onSubscribe(java.util.concurrent.Flow.Subscription s) {
        subscription = s;
        s.request(1);
      }

      @Override
      public void onNext(java.util.List<java.nio.ByteBuffer> items) {
        for (java.nio.ByteBuffer b : items) {
          text.append(java.nio.charset.StandardCharsets.UTF_8.decode(b));
        }
        int end = text.indexOf("\n\n");
        if (end >= 0) {
          body.complete(text.substring(0, end + 2));
          subscription.cancel();
        } else {
          subscription.request(1);
        }
      }

      @Override
      public void onError(Throwable t) {
        body.completeExceptionally(t);
      }

      @Override
      public void onComplete() {
        body.complete(text.toString());
      }
    };
  }

  @Override
  public void close() throws IOException {
    node.close();
    TestNode.delete(keysFile.getParent());
  }
}
