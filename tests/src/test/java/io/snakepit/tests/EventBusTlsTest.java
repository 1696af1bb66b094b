package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.contract.Addresses;
import io.snakepit.app.tls.TestCertificates;
import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A 3-JVM cluster whose event bus speaks mutual TLS ({@code cluster-tls-cert},
 * {@code cluster-tls-key}, {@code cluster-tls-ca}, certificates made by the
 * test with openssl): a call through one node to a session owned by another
 * crosses the bus and succeeds, and so does a request from an application
 * member with a certificate of the cluster's CA; a member with no TLS, or with
 * a certificate of another CA, gets no answer on the bus.
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class EventBusTlsTest {

  static final long REFUSED_WITHIN_MS = 10_000;

  static void tls(EventBusOptions bus, Path trusted, TestCertificates.Leaf own) {
    bus.setSsl(true).setClientAuth(ClientAuth.REQUIRED)
        .setTrustOptions(new PemTrustOptions().addCertPath(trusted.toString()))
        .setKeyCertOptions(new PemKeyCertOptions().setCertPath(own.cert().toString())
            .setKeyPath(own.key().toString()));
  }

  @Test
  void aClusterWithMutualTlsOnItsBusForwardsCallsAndAMemberWithoutTheCertificateCannotTalkOnIt()
      throws Exception {
    try (TestCertificates ca = TestCertificates.ca("bus"); TestCertificates rogue = TestCertificates.ca("rogue")) {
      TestCertificates.Leaf node = ca.leaf("node");
      try (Cluster c = new Cluster("--set", "cluster-tls-cert=" + node.cert(), "--set",
          "cluster-tls-key=" + node.key(), "--set", "cluster-tls-ca=" + ca.caCert).start(3)) {
        c.awaitRing(3);
        NodeProcess entry = c.node(0);
        String session = null;
        String owner = null;
        for (int i = 0; i < 60 && session == null; i++) {
          String id = "tls-" + i;
          assertThat(Http.post(entry.baseUrl() + "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode())
              .isEqualTo(201);
          String o = Http.getJson(entry.baseUrl() + "/v1/sessions/" + id).getString("owner");
          if (!entry.nodeId().equals(o)) {
            session = id;
            owner = o;
          }
        }
        assertThat(session).as("a session owned by another node than the entry").isNotNull();
        // Through node 0 to the owner: the call crosses the bus, over TLS.
        var answer = Http.post(entry.baseUrl() + "/v1/sessions/" + session + "/execute",
            "{\"tool\":\"echo\",\"args\":{\"n\":1}}");
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        JsonObject r = new JsonObject(answer.body());
        assertThat(r.getString("node")).isEqualTo(owner);
        assertThat(r.getJsonObject("result").getInteger("n")).isEqualTo(1);

        JsonObject call = new JsonObject().put("tool", "echo").put("session_id", session)
            .put("args", new JsonObject().put("f", 1));
        String address = Addresses.node(entry.nodeId(), "execute");
        // An application member with a certificate of the cluster's CA talks on the bus: joined as docs/embedding.md
        // says, with the certificate's files.
        TestCertificates.Leaf app = ca.leaf("app");
        var joined = io.snakepit.embed.SnakepitCluster.join(c.joinOptions().setBusTls(app.cert(), app.key(), ca.caCert))
            .await();
        Vertx member = joined.vertx();
        try {
          JsonObject forwarded = member.eventBus().<JsonObject>request(address, call,
              new DeliveryOptions().setSendTimeout(30_000)).await().body();
          assertThat(forwarded.getString("node")).isEqualTo(owner);
          assertThat(forwarded.getJsonObject("result").getInteger("f")).isEqualTo(1);
        } finally {
          joined.close().await();
        }
        // Without TLS: the node's bus refuses the connection, the request gets no answer.
        Vertx plain = c.joinAsApplication();
        try {
          assertThatThrownBy(() -> plain.eventBus().request(address, call,
              new DeliveryOptions().setSendTimeout(REFUSED_WITHIN_MS)).await())
              .as("a request from a member without TLS").isNotNull();
        } finally {
          plain.close().await();
        }
        // With a certificate of another CA (trusting the nodes' CA, so only its own certificate is wrong).
        TestCertificates.Leaf strangerCert = rogue.leaf("app");
        Vertx stranger = c.joinAsApplication(bus -> tls(bus, ca.caCert, strangerCert));
        try {
          assertThatThrownBy(() -> stranger.eventBus().request(address, call,
              new DeliveryOptions().setSendTimeout(REFUSED_WITHIN_MS)).await())
              .as("a request from a member with another CA's certificate").isNotNull();
        } finally {
          stranger.close().await();
        }
        // The cluster still serves after the refused members.
        var again = Http.post(entry.baseUrl() + "/v1/sessions/" + session + "/execute",
            "{\"tool\":\"echo\",\"args\":{\"n\":2}}");
        assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
        assertThat(new JsonObject(again.body()).getString("node")).isEqualTo(owner);
      }
    }
  }
}
