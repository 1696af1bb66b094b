package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The live cluster page on a real node with authentication on (docs/dashboard.md): the static files answer
 * without a token and load nothing from elsewhere; the stream needs a reader, starts with a snapshot of this
 * node and its workers, sends figures every second, and passes a worker's crash on as it happens.
 * {@code DashboardBrowserTest} (tests module) drives the page itself in Chromium against a 3-node cluster.
 */
class DashboardHttpTest {

  static SecuredNode secured;

  @BeforeAll
  static void start() throws Exception {
    secured = SecuredNode.start("dash", new JsonObject(), new JsonObject());
  }

  @AfterAll
  static void stop() throws Exception {
    if (secured != null) {
      secured.close();
    }
  }

  @Test
  void thePageIsServedWithoutATokenAndLoadsNothingFromElsewhere() throws Exception {
    for (String path : new String[] {"/dashboard", "/dashboard/", "/dashboard/index.html"}) {
      HttpResponse<String> r = secured.send(null, "GET", path, null);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type").orElse("")).as(path).startsWith("text/html");
      assertThat(r.headers().firstValue("Content-Security-Policy").orElse("")).contains("default-src 'self'");
      assertThat(r.body()).contains("/dashboard/dashboard.js").contains("/dashboard/dashboard.css");
    }
    for (String file : new String[] {"index.html", "dashboard.js", "dashboard.css"}) {
      String body = secured.send(null, "GET", "/dashboard/" + file, null).body();
      assertThat(body).as(file).doesNotContain("http://").doesNotContain("https://").doesNotContain("@import");
    }
    assertThat(secured.send(null, "GET", "/dashboard/dashboard.js", null).headers().firstValue("Content-Type")
        .orElse("")).contains("javascript");
    // The page's open path opens nothing else: the router would serve these as /v1/sessions.
    for (String sneaky : new String[] {"/dashboard/../v1/sessions", "/dashboard/%2e%2e/v1/sessions",
        "/dashboard/./../v1/sessions"}) {
      assertThat(secured.send(null, "GET", sneaky, null).statusCode()).as(sneaky).isIn(400, 401);
    }
    assertThat(secured.send(null, "GET", "/dashboard/nothing.js", null).statusCode()).isEqualTo(404);
  }

  @Test
  void theStreamNeedsAReader() throws Exception {
    HttpResponse<String> anonymous = secured.send(null, "GET", "/v1/dashboard/stream", null);
    assertThat(anonymous.statusCode()).isEqualTo(401);
    assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v)
        .startsWith("Bearer"));
    HttpResponse<String> caller = secured.send(SecuredNode.CALLER, "GET", "/v1/dashboard/stream", null);
    assertThat(caller.statusCode()).isEqualTo(403);
    assertThat(new JsonObject(caller.body()).getJsonObject("error").getString("required")).isEqualTo("reader");

    HttpResponse<String> reader = secured.send(SecuredNode.READER, "GET", "/v1/dashboard/stream", null);
    assertThat(reader.statusCode()).isEqualTo(200);
    assertThat(reader.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
    assertThat(reader.body()).startsWith("event: snapshot\ndata: ");
    JsonObject snapshot = new JsonObject(reader.body().substring(reader.body().indexOf("data: ") + 6).trim());
    JsonArray nodes = snapshot.getJsonObject("figures").getJsonArray("nodes");
    assertThat(nodes).hasSize(1);
    JsonObject node = nodes.getJsonObject(0);
    assertThat(node.getString("id")).isEqualTo("dash");
    assertThat(node.getString("state")).isEqualTo("serving");
    assertThat(node.getJsonArray("workers")).isNotEmpty();
    assertThat(snapshot.getJsonObject("figures").getJsonArray("pools").getJsonObject(0).getString("name"))
        .isEqualTo("default");
    assertThat(snapshot.getJsonArray("events")).isNotNull();
  }

  @Test
  void theStreamSendsFiguresAndAWorkersCrashAsTheyHappen() throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create(secured.node.url() + "/v1/dashboard/stream"))
        .header("Authorization", "Bearer " + secured.keys.get(SecuredNode.READER)).GET().build();
    HttpResponse<Stream<String>> r = secured.node.http.send(request, HttpResponse.BodyHandlers.ofLines());
    try (Stream<String> lines = r.body()) {
      assertThat(r.statusCode()).isEqualTo(200);
      Iterator<String> it = lines.iterator();
      JsonObject figures = next(it, "figures");
      JsonObject worker = figures.getJsonArray("nodes").getJsonObject(0).getJsonArray("workers").getJsonObject(0);
      // A calls/s needs two samples a second apart; the second figures have it (zero: no call was made).
      assertThat(next(it, "figures").getJsonArray("pools").getJsonObject(0).getDouble("calls_per_s")).isNotNull();
      Process kill = new ProcessBuilder("kill", "-KILL", worker.getValue("pid").toString()).start();
      assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
      JsonObject crashed;
      do {
        crashed = next(it, "event");
      } while (!"worker.crashed".equals(crashed.getString("type")));
      assertThat(crashed.getString("id")).isEqualTo(worker.getString("id"));
      assertThat(crashed.getString("node")).isEqualTo("dash");
    }
  }

  /** The data of the next event named {@code name}, within a deadline (the read blocks, so it runs aside). */
  private static JsonObject next(Iterator<String> lines, String name) throws Exception {
    return CompletableFuture.supplyAsync(() -> {
      boolean named = false;
      while (lines.hasNext()) {
        String line = lines.next();
        if (line.equals("event: " + name)) {
          named = true;
        } else if (named && line.startsWith("data: ")) {
          return new JsonObject(line.substring(6));
        } else if (line.isEmpty()) {
          named = false;
        }
      }
      throw new IllegalStateException("the stream ended before an event " + name);
    }).get(Duration.ofSeconds(30).toSeconds(), TimeUnit.SECONDS);
  }
}
