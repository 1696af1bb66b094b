package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Calls that reach a node while it is frozen ({@code SIGSTOP}) past failure
 * detection are answered once it wakes: with a result or a typed error,
 * within their timeout, never left hanging. Found by the chaos harness
 * (tests/chaos.sh --seed 1): a streamed call sent to a frozen node got no
 * answer at all.
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class WokenNodeCallsTest {

  static final Duration DEADLINE = Duration.ofSeconds(90);
  static final int SESSIONS = 12;
  /** The calls' own timeout; the client waits far longer before it calls a call stalled. */
  static final int CALL_TIMEOUT_MS = 10_000;
  static final Duration CLIENT_PATIENCE = Duration.ofSeconds(60);

  @Test
  void everyCallSentToAFrozenNodeIsAnsweredOnceItWakes() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      NodeProcess frozen = c.node(0);
      List<String> sessions = new ArrayList<>();
      for (int i = 0; i < SESSIONS; i++) {
        String id = "woken-" + i;
        assertThat(Http.post(c.node(1).baseUrl() + "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode())
            .isEqualTo(201);
        sessions.add(id);
      }
      c.awaitSafe();
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
      frozen.signal("STOP");
      // The calls: a streamed one and a plain one in each session, all sent to the frozen node.
      try {
        // Half the calls reach it before the others notice it is gone, half after.
        answers.addAll(send(client, frozen, sessions.subList(0, SESSIONS / 2)));
        for (NodeProcess n : List.of(c.node(1), c.node(2))) {
          Poll.until(n.nodeId() + " drops the frozen node", DEADLINE, () -> !Cluster.ring(n).contains(
              frozen.nodeId()));
        }
        answers.addAll(send(client, frozen, sessions.subList(SESSIONS / 2, SESSIONS)));
        Poll.until("the frozen node's kernel holds the calls", Duration.ofSeconds(20),
            () -> OwnerFreezeTest.unreadConnections(frozen.httpPort()) >= SESSIONS);
      } finally {
        frozen.signal("CONT");
      }
      List<String> stalled = new ArrayList<>();
      for (CompletableFuture<HttpResponse<String>> a : answers) {
        try {
          HttpResponse<String> r = a.get(CLIENT_PATIENCE.toSeconds() + 10, TimeUnit.SECONDS);
          System.out.println("answer " + r.statusCode() + " " + r.body().replace('\n', ' '));
          if (r.statusCode() == 200 && r.body().contains("\"item\"")) {
            assertThat(r.body()).as("a streamed answer ends with done or a typed error")
                .containsAnyOf("\"done\"", "\"error\"");
          } else if (r.statusCode() != 200) {
            assertThat(r.body()).as("an error is typed").contains("\"code\"");
          }
        } catch (java.util.concurrent.ExecutionException e) {
          stalled.add(e.getCause().toString());
        }
      }
      assertThat(stalled).as("calls left without an answer for " + CLIENT_PATIENCE).isEmpty();
    }
  }

  static List<CompletableFuture<HttpResponse<String>>> send(HttpClient client, NodeProcess to, List<String> sessions) {
    List<CompletableFuture<HttpResponse<String>>> out = new ArrayList<>();
    for (String s : sessions) {
      for (String path : List.of("/execute/stream", "/execute")) {
        String tool = path.endsWith("stream") ? "count\",\"args\":{\"n\":3}" : "echo\",\"args\":{}";
        HttpRequest r = HttpRequest.newBuilder(URI.create(to.baseUrl() + "/v1/sessions/" + s + path))
            .timeout(CLIENT_PATIENCE).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"tool\":\"" + tool + ",\"timeout_ms\":"
                + CALL_TIMEOUT_MS + "}")).build();
        out.add(client.sendAsync(r, HttpResponse.BodyHandlers.ofString()));
      }
    }
    return out;
  }
}
