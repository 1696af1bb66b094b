package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NetworkNamespaces;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Joining through DNS, as on Kubernetes: three nodes, each in its own network
 * namespace, are given no members, only {@code --cluster-dns} with a name that
 * resolves to all three addresses, the way a headless service's name resolves
 * to its pods. Kubernetes itself cannot run here; the name comes from
 * {@code /etc/netns/NS/hosts} ({@link NetworkNamespaces#resolveInside}), which
 * the node's resolver reads as it would read cluster DNS. Root only; skipped otherwise.
 */
class DnsDiscoveryTest {

  static final String SERVICE = "snakepit-headless.snakepit.svc.cluster.local";

  @BeforeAll
  static void needsNamespaces() {
    String why = NetworkNamespaces.unavailableReason();
    assumeTrue(why == null, () -> "DnsDiscoveryTest skipped: " + why);
  }

  @Test
  void nodesGivenOnlyAHeadlessServiceNameFormOneClusterAndServeOneAnothersSessions() throws Exception {
    try (NamespacedCluster c = NamespacedCluster.joiningThroughDns(3, SERVICE)) {
      // The constructor waits until every node's ring holds all three.
      Set<String> ids = new HashSet<>();
      c.nodes.forEach(n -> ids.add(n.nodeId()));
      assertThat(ids).hasSize(3);
      JsonArray nodes = new JsonObject(Http.get(c.node(0).baseUrl() + "/v1/cluster").body()).getJsonArray("nodes");
      assertThat(nodes).as("GET /v1/cluster on n1").hasSize(3);

      // One cluster, not three: a session created through one node is served by the others.
      NodeProcess n1 = c.node(0);
      HttpResponse<String> created = Http.post(n1.baseUrl() + "/v1/sessions",
          new JsonObject().put("id", "dns-s1").encode());
      assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
      HttpResponse<String> put = Http.put(c.node(1).baseUrl() + "/v1/sessions/dns-s1/variables/x",
          new JsonObject().put("value", 42).encode());
      assertThat(put.statusCode()).as(put.body()).isBetween(200, 204);
      HttpResponse<String> read = Http.get(c.node(2).baseUrl() + "/v1/sessions/dns-s1/variables/x");
      assertThat(read.statusCode()).as(read.body()).isEqualTo(200);
      assertThat(new JsonObject(read.body()).getInteger("value")).isEqualTo(42);
      HttpResponse<String> run = Http.post(c.node(2).baseUrl() + "/v1/sessions/dns-s1/execute",
          new JsonObject().put("tool", "echo").put("args", new JsonObject().put("v", "via dns")).encode());
      assertThat(run.statusCode()).as(run.body()).isEqualTo(200);
      assertThat(run.body()).contains("via dns");
    }
  }
}
