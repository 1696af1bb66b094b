package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.grpc.GrpcApiVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The hardened HTTP server (issue 12, item 7), over raw sockets against the real servers: the configured
 * request-line and header limits give typed 414 and 431; a 413 closes its connection; partial request heads
 * (slowloris) are closed within {@code http.header-timeout-ms}, even when they trickle; an idle keep-alive
 * connection is closed after {@code http.idle-timeout-s} while a busy one keeps working; over
 * {@code http.max-connections} a new connection is closed while the ones under the cap keep working. Before:
 * the limits were Vert.x's fixed defaults, and nothing was ever closed (300 slowloris connections were all open
 * after 20 s, and a connection stayed open after a 413).
 *
 * <p>No assertion on timings: the deadlines are generous bounds for "closed at all".
 */
class HardenedHttpServerTest {

  /** Far above the configured timeouts: a connection open past it was not going to be closed. */
  static final Duration DEADLINE = Duration.ofSeconds(15);
  static final int SLOWLORIS = 20;
  static final int CAP = 4;

  static Vertx vertx;
  /** Short timeouts, small limits. */
  static HttpApiVerticle tight;
  /** Default timeouts, a cap of {@link #CAP} connections. */
  static HttpApiVerticle capped;
  static GrpcApiVerticle grpc;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    JsonObject shortLimits = new JsonObject().put("max-request-line-bytes", 1024).put("max-header-bytes", 4096)
        .put("header-timeout-ms", 500).put("idle-timeout-s", 1).put("max-connections", 256);
    tight = new HttpApiVerticle("hard-node", "127.0.0.1", 0, 1024);
    deploy(tight, shortLimits);
    capped = new HttpApiVerticle("hard-node", "127.0.0.1", 0, 1024);
    deploy(capped, new JsonObject().put("max-connections", CAP));
    grpc = new GrpcApiVerticle("127.0.0.1", 0);
    deploy(grpc, shortLimits);
  }

  private static void deploy(io.vertx.core.Deployable verticle, JsonObject http) throws Exception {
    vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(new JsonObject().put("http", http)))
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static JsonObject typedError(RawHttpConnection.Response r, int status) {
    assertThat(r.status()).as(r.head()).isEqualTo(status);
    assertThat(r.header("Content-Type")).isEqualTo("application/json");
    JsonObject err = new JsonObject(r.body()).getJsonObject("error");
    assertThat(err.getString("code")).isEqualTo("bad_request");
    assertThat(err.getString("message")).isNotBlank();
    assertThat(err.getString("hint")).isNotBlank();
    assertThat(err.getString("correlation_id")).isNotBlank().isEqualTo(r.header("X-Correlation-Id"));
    return err;
  }

  @Test
  void aRequestLineOverTheConfiguredLimitIsATyped414AndTheConnectionCloses() throws IOException {
    // 2000 bytes: under Vert.x's default of 4096, over the configured 1024.
    try (RawHttpConnection c = new RawHttpConnection(tight.actualPort())) {
      RawHttpConnection.Response r = c.get("/openapi.json?x=" + "a".repeat(2000));
      assertThat(typedError(r, 414).getString("message")).contains("request line is too long");
      assertThat(c.closedWithin(DEADLINE)).isTrue();
    }
  }

  @Test
  void headersOverTheConfiguredLimitAreATyped431NotAReset() throws IOException {
    // 6 KiB: under Vert.x's default of 8 KiB, over the configured 4 KiB; and 64 KiB, the finding.
    for (int size : new int[] {6 * 1024, 64 * 1024}) {
      try (RawHttpConnection c = new RawHttpConnection(tight.actualPort())) {
        c.send("GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(size) + "\r\n\r\n");
        RawHttpConnection.Response r = c.read();
        assertThat(typedError(r, 431).getString("message")).as("%d bytes", size).contains("headers are too large");
        assertThat(c.closedWithin(DEADLINE)).isTrue();
      }
    }
  }

  @Test
  void after413TheAnswerSaysConnectionCloseAndTheConnectionIsClosed() throws IOException {
    try (RawHttpConnection c = new RawHttpConnection(tight.actualPort())) {
      String body = "{\"x\":\"" + "y".repeat(2048) + "\"}";
      c.send("POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
          + body.length() + "\r\n\r\n" + body);
      RawHttpConnection.Response r = c.read();
      assertThat(r.status()).as(r.head()).isEqualTo(413);
      assertThat(new JsonObject(r.body()).getJsonObject("error").getString("code")).isEqualTo("payload_too_large");
      assertThat(r.header("Connection")).isEqualToIgnoringCase("close");
      assertThat(c.closedWithin(DEADLINE)).as("the connection is closed after the 413").isTrue();
    }
  }

  @Test
  void slowlorisConnectionsAreAllClosedWithinTheHeaderTimeoutEvenWhenTheyTrickle() throws Exception {
    List<RawHttpConnection> partial = new ArrayList<>();
    AtomicBoolean trickling = new AtomicBoolean(true);
    Thread trickler = null;
    try {
      for (int i = 0; i < SLOWLORIS; i++) {
        partial.add(new RawHttpConnection(tight.actualPort()).send("GET /openapi.json HTTP/1.1\r\nHost: x\r\n"));
      }
      // One more keeps sending a header byte every 100 ms, which a read-idle timeout would never close.
      RawHttpConnection trickle = new RawHttpConnection(tight.actualPort()).send("GET /openapi.json HTTP/1.1\r\n");
      partial.add(trickle);
      trickler = new Thread(() -> {
        try {
          while (trickling.get()) {
            trickle.send("X");
            Thread.sleep(100);
          }
        } catch (IOException | InterruptedException e) {
          // closed by the server (the point), or the test ended
        }
      });
      trickler.start();
      for (RawHttpConnection c : partial) {
        assertThat(c.closedWithin(DEADLINE)).as("a partial request head is closed").isTrue();
      }
    } finally {
      trickling.set(false);
      if (trickler != null) {
        trickler.join(5_000);
      }
      for (RawHttpConnection c : partial) {
        c.close();
      }
    }
  }

  @Test
  void aKeepAliveClientKeepsWorkingAndItsConnectionIsClosedOnceIdle() throws IOException {
    try (RawHttpConnection c = new RawHttpConnection(tight.actualPort())) {
      for (int i = 0; i < 20; i++) {
        RawHttpConnection.Response r = c.get("/openapi.json");
        assertThat(r.status()).as("request %d on one connection", i).isEqualTo(200);
        assertThat(r.header("Connection")).isNull();
      }
      assertThat(c.closedWithin(DEADLINE)).as("closed after idle-timeout-s=1 with nothing in flight").isTrue();
    }
  }

  /**
   * Through a real node (the {@code http} section read by NodeConfig and handed over by Node): a call that
   * takes longer than twice {@code idle-timeout-s} is answered on its keep-alive connection, which closes only
   * once idle. Vert.x's own idle timeout would have cut the call.
   */
  @Test
  void aSlowCallOutlivesTheIdleTimeoutThroughARealNode() throws Exception {
    JsonObject cfg = new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)))
        .put("http", new JsonObject().put("idle-timeout-s", 1).put("header-timeout-ms", 500));
    try (io.snakepit.app.TestNode node = io.snakepit.app.TestNode.start("hard-idle", cfg);
         RawHttpConnection c = new RawHttpConnection(node.node.httpPort())) {
      String body = "{\"tool\":\"sleep\",\"args\":{\"ms\":3500}}";
      c.send("POST /v1/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
          + body.length() + "\r\n\r\n" + body);
      RawHttpConnection.Response r = c.read();
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.body()).contains("slept_ms");
      assertThat(c.get("/health").status()).as("the connection is still usable").isEqualTo(200);
      assertThat(c.closedWithin(DEADLINE)).as("closed once idle").isTrue();
    }
  }

  @Test
  void overTheCapANewConnectionIsClosedWhileTheCappedOnesKeepWorking() throws Exception {
    List<RawHttpConnection> held = new ArrayList<>();
    try {
      for (int i = 0; i < CAP; i++) {
        RawHttpConnection c = new RawHttpConnection(capped.actualPort());
        held.add(c);
        assertThat(c.get("/openapi.json").status()).isEqualTo(200);
      }
      try (RawHttpConnection over = new RawHttpConnection(capped.actualPort())) {
        assertThat(over.closedWithin(DEADLINE)).as("a connection over max-connections=" + CAP).isTrue();
      }
      for (RawHttpConnection c : held) {
        assertThat(c.get("/openapi.json").status()).as("a connection under the cap").isEqualTo(200);
      }
      held.remove(0).close();
      // Once the server has seen the close, there is room again.
      io.snakepit.app.TestNode.until("a new connection is served", DEADLINE, () -> {
        try (RawHttpConnection again = new RawHttpConnection(capped.actualPort())) {
          return again.get("/openapi.json").status() == 200;
        }
      });
    } finally {
      for (RawHttpConnection c : held) {
        c.close();
      }
    }
  }

  @Test
  void aGrpcConnectionThatSendsThePrefaceAndNoRequestIsClosed() throws IOException {
    try (RawHttpConnection c = new RawHttpConnection(grpc.actualPort())) {
      // The HTTP/2 client preface and an empty SETTINGS frame (length 0, type 4, no flags, stream 0); no request.
      c.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\0\0\0\4\0\0\0\0\0");
      assertThat(c.closedWithin(DEADLINE)).as("closed after header-timeout-ms=500 with no request").isTrue();
    }
  }
}
