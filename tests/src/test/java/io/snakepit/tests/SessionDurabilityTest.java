package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Acknowledged session writes survive SIGKILL of the node (default durability: commit). */
class SessionDurabilityTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  Path dataDir;

  @BeforeEach
  void setUp() throws Exception {
    dataDir = Files.createTempDirectory("snakepit-dur-");
  }

  @AfterEach
  void tearDown() throws Exception {
    try (var walk = Files.walk(dataDir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Test
  void everyAcknowledgedWriteIsBackAfterSigkill() throws Exception {
    int sessions = 40;
    List<String> acked = new ArrayList<>();
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      List<CompletableFuture<HttpResponse<String>>> writes = new ArrayList<>();
      for (int i = 0; i < sessions; i++) {
        assertThat(Http.post(node.baseUrl() + "/v1/sessions", "{\"id\":\"d-" + i + "\"}").statusCode())
            .isEqualTo(201);
      }
      // Many writes in flight at once, so that group commits are exercised; keep only the acknowledged ones.
      for (int i = 0; i < sessions; i++) {
        for (int k = 0; k < 5; k++) {
          writes.add(http.sendAsync(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/v1/sessions/d-" + i
                  + "/variables/v" + k)).PUT(HttpRequest.BodyPublishers.ofString("{\"value\":" + (i * 10 + k) + "}"))
              .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString()));
        }
      }
      for (int i = 0; i < writes.size(); i++) {
        if (writes.get(i).get().statusCode() == 200) {
          acked.add("d-" + (i / 5) + "/v" + (i % 5));
        }
      }
      assertThat(acked).hasSize(sessions * 5);
      node.signal("KILL");
      node.process().waitFor();
    }
    try (NodeProcess again = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      for (String w : acked) {
        String[] parts = w.split("/");
        int i = Integer.parseInt(parts[0].substring(2));
        int k = Integer.parseInt(parts[1].substring(1));
        HttpResponse<String> r = Http.get(again.baseUrl() + "/v1/sessions/" + parts[0] + "/variables/" + parts[1]);
        assertThat(r.statusCode()).as(w).isEqualTo(200);
        assertThat(new JsonObject(r.body()).getInteger("value")).isEqualTo(i * 10 + k);
      }
    }
  }
}
