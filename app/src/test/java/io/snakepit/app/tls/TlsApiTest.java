package io.snakepit.app.tls;

import static io.snakepit.app.CliRun.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.CliRun;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.Struct;
import io.snakepit.app.TestNode;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.ExecuteResponse;
import io.snakepit.grpc.v1.SnakepitGrpcClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientOptions;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The HTTP and gRPC APIs of a real node (in this JVM, real Python workers) over
 * TLS and mutual TLS, with certificates made by {@code openssl} for the test,
 * through Vert.x's HTTP and gRPC clients and the CLI; and a certificate renewed
 * on disk while the node runs.
 */
class TlsApiTest {

  static TestCertificates ca;
  static TestCertificates rogue;
  static TestCertificates.Leaf server;
  static TestCertificates.Leaf client;
  static TestCertificates.Leaf rogueClient;
  static Vertx vertx;

  @BeforeAll
  static void certificates() throws Exception {
    ca = TestCertificates.ca("test");
    rogue = TestCertificates.ca("rogue");
    server = ca.leaf("node");
    client = ca.leaf("client");
    rogueClient = rogue.leaf("client");
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void cleanUp() throws Exception {
    if (vertx != null) {
      await(vertx.close());
    }
    ca.close();
    rogue.close();
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  static JsonObject tls(TestCertificates.Leaf leaf, Path clientCa) {
    JsonObject t = new JsonObject().put("cert", leaf.cert().toString()).put("key", leaf.key().toString());
    return clientCa == null ? t : t.put("client-ca", clientCa.toString());
  }

  static TestNode node(String id, JsonObject tls) throws Exception {
    return TestNode.start(id, new JsonObject().put("tls", tls)
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))));
  }

  /** An HTTPS client trusting the test CA, presenting {@code cert} when not null; a new connection per request. */
  static HttpClientOptions clientOptions(TestCertificates.Leaf cert) {
    // A generous handshake timeout: the test machine is shared, and a slow handshake is not what is tested.
    HttpClientOptions o = new HttpClientOptions().setSsl(true).setKeepAlive(false)
        .setSslHandshakeTimeout(60).setSslHandshakeTimeoutUnit(TimeUnit.SECONDS)
        .setTrustOptions(new PemTrustOptions().addCertPath(ca.caCert.toString()));
    return cert == null ? o : o.setKeyCertOptions(new PemKeyCertOptions().setCertPath(cert.cert().toString())
        .setKeyPath(cert.key().toString()));
  }

  /** One answer over HTTPS and the serial number of the certificate the server presented for it. */
  record Answer(int status, String body, String serial) {
  }

  /** One request on a client of its own, closed after: a new connection, a new handshake. */
  static Answer freshRequest(boolean h2, int port, HttpMethod method, String path) throws Exception {
    HttpClientOptions options = clientOptions(null);
    if (h2) {
      options.setUseAlpn(true).setProtocolVersion(HttpVersion.HTTP_2);
    }
    HttpClient client = vertx.createHttpClient(options);
    try {
      return request(client, port, method, path, h2 ? "" : null);
    } finally {
      await(client.close());
    }
  }

  static Answer request(HttpClient http, int port, HttpMethod method, String path, String body) throws Exception {
    return await(http.request(method, port, "127.0.0.1", path).compose(req -> {
      req.putHeader("Content-Type", "application/json");
      return (body == null ? req.send() : req.send(body)).compose(resp -> resp.body().map(b -> {
        try {
          String serial = ((X509Certificate) req.connection().peerCertificates().get(0)).getSerialNumber()
              .toString(16);
          return new Answer(resp.statusCode(), b.toString(StandardCharsets.UTF_8), serial);
        } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
          throw new IllegalStateException(e);
        }
      }));
    }));
  }

  static boolean refused(HttpClient http, int port) {
    try {
      request(http, port, HttpMethod.GET, "/health", null);
      return false;
    } catch (Exception e) {
      return true;
    }
  }

  static GrpcClient grpc(TestCertificates.Leaf cert) {
    return GrpcClient.client(vertx, new GrpcClientOptions(), clientOptions(cert).setUseAlpn(true)
        .setProtocolVersion(HttpVersion.HTTP_2).setKeepAlive(true));
  }

  static GrpcStatus grpcEcho(GrpcClient grpc, int port) throws Exception {
    Struct.Builder args = Struct.newBuilder();
    com.google.protobuf.util.JsonFormat.parser().merge("{\"x\": 7}", args);
    ExecuteRequest req = ExecuteRequest.newBuilder().setTool("echo").setArgs(args).build();
    return await(grpc.request(SocketAddress.inetSocketAddress(port, "127.0.0.1"), SnakepitGrpcClient.Execute)
        .compose(r -> r.send(req).compose(resp -> resp.last().map(m -> {
          ExecuteResponse e = m;
          assertThat(e.getResult().getStructValue().getFieldsOrThrow("x").getNumberValue()).isEqualTo(7);
          return resp.status();
        }))));
  }

  @Test
  void httpAndGrpcServeTlsWithTheConfiguredCertificate() throws Exception {
    try (TestNode node = node("tls-plain-clients", tls(server, null))) {
      HttpClient https = vertx.createHttpClient(clientOptions(null));
      try {
        Answer health = request(https, node.node.httpPort(), HttpMethod.GET, "/health", null);
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.serial()).isEqualTo(server.serial());
        Answer exec = request(https, node.node.httpPort(), HttpMethod.POST, "/v1/execute",
            "{\"tool\":\"echo\",\"args\":{\"x\":1}}");
        assertThat(exec.status()).as(exec.body()).isEqualTo(200);
        assertThat(new JsonObject(exec.body()).getJsonObject("result").getInteger("x")).isEqualTo(1);
      } finally {
        await(https.close());
      }
      // Plain HTTP to the TLS port gets no answer of the API.
      HttpClient plain = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(false));
      try {
        assertThat(refused(plain, node.node.httpPort())).as("plain HTTP to the TLS port").isTrue();
      } finally {
        await(plain.close());
      }
      // A client that does not trust the test CA (the JVM's CAs only) refuses the node's certificate.
      HttpClient untrusting = vertx.createHttpClient(new HttpClientOptions().setSsl(true).setKeepAlive(false));
      try {
        assertThat(refused(untrusting, node.node.httpPort())).as("a client without the CA").isTrue();
      } finally {
        await(untrusting.close());
      }
      GrpcClient grpc = grpc(null);
      try {
        assertThat(grpcEcho(grpc, node.node.grpcPort())).isEqualTo(GrpcStatus.OK);
      } finally {
        await(grpc.close());
      }
      // The CLI: https with the private CA works; without it, the handshake fails (unreachable, exit 3).
      String url = "https://127.0.0.1:" + node.node.httpPort();
      CliRun ok = cli("workers", "--url", url, "--ca-cert", ca.caCert.toString(), "--json");
      assertThat(ok.code()).as(ok.err()).isZero();
      assertThat(new JsonObject(ok.out().strip()).getJsonArray("workers")).isNotEmpty();
      CliRun noCa = cli("workers", "--url", url);
      assertThat(noCa.code()).isEqualTo(3);
      assertThat(noCa.err()).contains("TLS handshake failed").contains("--ca-cert");
    }
  }

  @Test
  void mutualTlsServesOnlyClientsWithACertificateFromTheCa() throws Exception {
    try (TestNode node = node("tls-mutual", tls(server, ca.caCert))) {
      int httpPort = node.node.httpPort();
      HttpClient anonymous = vertx.createHttpClient(clientOptions(null));
      HttpClient stranger = vertx.createHttpClient(clientOptions(rogueClient));
      HttpClient member = vertx.createHttpClient(clientOptions(client));
      try {
        assertThat(refused(anonymous, httpPort)).as("a client without a certificate").isTrue();
        assertThat(refused(stranger, httpPort)).as("a client with another CA's certificate").isTrue();
        Answer ok = request(member, httpPort, HttpMethod.GET, "/health", null);
        assertThat(ok.status()).isEqualTo(200);
      } finally {
        await(anonymous.close());
        await(stranger.close());
        await(member.close());
      }
      GrpcClient grpcAnonymous = grpc(null);
      GrpcClient grpcMember = grpc(client);
      try {
        boolean anonymousFailed;
        try {
          grpcEcho(grpcAnonymous, node.node.grpcPort());
          anonymousFailed = false;
        } catch (Exception e) {
          anonymousFailed = true;
        }
        assertThat(anonymousFailed).as("a gRPC client without a certificate is refused").isTrue();
        assertThat(grpcEcho(grpcMember, node.node.grpcPort())).isEqualTo(GrpcStatus.OK);
      } finally {
        await(grpcAnonymous.close());
        await(grpcMember.close());
      }
      String url = "https://127.0.0.1:" + httpPort;
      CliRun withCert = cli("workers", "--url", url, "--ca-cert", ca.caCert.toString(),
          "--client-cert", client.cert().toString(), "--client-key", client.key().toString());
      assertThat(withCert.code()).as(withCert.err()).isZero();
      CliRun without = cli("workers", "--url", url, "--ca-cert", ca.caCert.toString());
      assertThat(without.code()).isEqualTo(3);
    }
  }

  @Test
  void aRenewedCertificateIsServedWithoutARestartAndABrokenOneLeavesTheOldInUse() throws Exception {
    Path dir = Files.createTempDirectory(ca.dir, "live-");
    Path cert = dir.resolve("server.pem");
    Path key = dir.resolve("server.key");
    TestCertificates.replace(server.cert(), cert);
    TestCertificates.replace(server.key(), key);
    Logger log = (Logger) LoggerFactory.getLogger(ServerTls.class);
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    log.addAppender(logged);
    JsonObject settings = new JsonObject().put("cert", cert.toString()).put("key", key.toString())
        .put("reload-interval-ms", 300);
    try (TestNode node = node("tls-reload", settings)) {
      HttpClient https = vertx.createHttpClient(clientOptions(null));
      try {
        int httpPort = node.node.httpPort();
        int grpcPort = node.node.grpcPort();
        assertThat(request(https, httpPort, HttpMethod.GET, "/health", null).serial()).isEqualTo(server.serial());

        TestCertificates.Leaf renewed = ca.leaf("node");
        TestCertificates.replace(renewed.key(), key);
        TestCertificates.replace(renewed.cert(), cert);
        // Each check on a new connection: a pooled one keeps the certificate it was opened with.
        TestNode.until("the HTTP API presents the renewed certificate", Duration.ofSeconds(30),
            () -> renewed.serial().equals(freshRequest(false, httpPort, HttpMethod.GET, "/health").serial()));
        TestNode.until("the gRPC API presents the renewed certificate", Duration.ofSeconds(30),
            () -> renewed.serial().equals(freshRequest(true, grpcPort, HttpMethod.POST, "/").serial()));

        // A broken certificate file (a renewal gone wrong): logged, and the renewed certificate stays in use.
        Files.writeString(key, "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n");
        TestNode.until("the broken key is reported", Duration.ofSeconds(30), () -> logged.list.stream()
            .anyMatch(e -> e.getFormattedMessage().contains("do not load")));
        assertThat(request(https, httpPort, HttpMethod.GET, "/health", null).serial()).isEqualTo(renewed.serial());
        assertThat(logged.list).noneMatch(e -> e.getFormattedMessage().contains("TOP-SECRET"));

        TestCertificates.Leaf fixed = ca.leaf("node");
        TestCertificates.replace(fixed.key(), key);
        TestCertificates.replace(fixed.cert(), cert);
        TestNode.until("the HTTP API presents the repaired certificate", Duration.ofSeconds(30),
            () -> fixed.serial().equals(freshRequest(false, httpPort, HttpMethod.GET, "/health").serial()));
      } finally {
        await(https.close());
        log.detachAppender(logged);
      }
    }
  }
}
