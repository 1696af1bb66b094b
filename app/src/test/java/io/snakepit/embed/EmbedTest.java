package io.snakepit.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.client.ExecuteResult;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Snakepit#deploy} in an application's Vert.x with real Python workers, and the refusals of both entry
 * points: each leaves nothing deployed and names what to fix.
 */
class EmbedTest {

  @TempDir
  Path dir;
  Vertx vertx;

  @BeforeEach
  void vertx() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void close() throws Exception {
    vertx.close().await(60, TimeUnit.SECONDS);
  }

  SnakepitOptions options() {
    return new SnakepitOptions().setDataDir(dir.resolve("data")).set("pools.default.size", 1)
        .setHttpApi(false).setGrpcApi(false);
  }

  @Test
  void aDeploymentRunsToolsAndItsCloseLeavesTheApplicationsVertxRunning() throws Exception {
    SnakepitHandle h = Snakepit.deploy(vertx, options()).await(60, TimeUnit.SECONDS);
    String id = h.nodeId();
    assertThat(id).startsWith("node-");
    assertThat(h.httpPort()).isEqualTo(-1);
    ExecuteResult r = h.client().execute("echo", new JsonObject().put("x", 1)).await(60, TimeUnit.SECONDS);
    assertThat(r.result()).isEqualTo(new JsonObject().put("x", 1));
    assertThat(r.node()).isEqualTo(id);
    Future<Void> closed = h.close();
    assertThat(h.close()).as("close is idempotent").isSameAs(closed);
    closed.await(60, TimeUnit.SECONDS);
    assertThat(vertx.deploymentIDs()).as("everything Snakepit deployed is gone").isEmpty();
    // The application's Vert.x still works, and a new deployment starts on the same data.
    SnakepitHandle again = Snakepit.deploy(vertx, options()).await(60, TimeUnit.SECONDS);
    assertThat(again.nodeId()).as("the id kept in the data directory").isEqualTo(id);
    again.close().await(60, TimeUnit.SECONDS);
  }

  @Test
  void aBadKeyIsRefusedWithItsNameAndNothingIsDeployed() {
    assertRefused(Snakepit.deploy(vertx, options().set("pools.default.size", "many")), "pools.default.size");
    assertRefused(Snakepit.deploy(vertx, options().set("no-such-key", 1)), "no-such-key");
    assertThat(vertx.deploymentIDs()).isEmpty();
  }

  @Test
  void clusterOptionsNeedAClusteredVertx() {
    assertRefused(Snakepit.deploy(vertx, options().set("cluster", true)), "Snakepit.createVertx");
  }

  @Test
  void aDeployThatFailsPartWayUndeploysWhatItHadDeployed() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Future<SnakepitHandle> f = Snakepit.deploy(vertx, options().setHttpApi(true).setHttpPort(taken.getLocalPort()));
      assertThatThrownBy(() -> f.await(60, TimeUnit.SECONDS)).isNotNull();
    }
    assertThat(vertx.deploymentIDs()).as("the store and the supervisor are undeployed again").isEmpty();
  }

  @Test
  void joinRefusesOptionsThatNameNoNodeOrHalfATlsSetup() {
    assertRefused(SnakepitCluster.join(new JoinOptions()), "addMember");
    assertRefused(SnakepitCluster.join(new JoinOptions().addMember("not a member")), "HOST:PORT");
    assertRefused(SnakepitCluster.join(new JoinOptions().addMember("127.0.0.1:5701")
        .setBusTls(dir.resolve("cert.pem"), null, null)), "cluster-tls-key");
  }

  static void assertRefused(Future<?> f, String naming) {
    assertThatThrownBy(() -> f.await(60, TimeUnit.SECONDS))
        .isInstanceOfSatisfying(SnakepitException.class, e -> {
          assertThat(e.errorCode()).isEqualTo(ErrorCode.BAD_REQUEST);
          assertThat(e.getMessage()).contains(naming);
        });
  }
}
