package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The live cluster page (docs/dashboard.md) in headless Chromium against a real 3-node cluster: the page of
 * node 1 shows every node, and when node 3 is killed with SIGKILL the same page, never reloaded, shows it
 * left and lists its departure among the events. Screenshots at a phone's and a desktop's width go to
 * {@code tests/target/dashboard-*.png} for a person to look at.
 */
@org.junit.jupiter.api.extension.ExtendWith(PrintNodeLogsOnFailure.class)
class DashboardBrowserTest {

  private static final String NODES = "JSON.stringify([...document.querySelectorAll('#nodes [data-node-id]')]"
      + ".map(e => ({id: e.dataset.nodeId, state: e.dataset.state, workers: e.querySelectorAll('.worker').length})))";

  private static JsonArray nodesShown(HeadlessChromium page) throws Exception {
    return new JsonArray((String) page.evaluate(NODES));
  }

  private static String stateShown(HeadlessChromium page, String nodeId) throws Exception {
    for (Object o : nodesShown(page)) {
      if (((JsonObject) o).getString("id").equals(nodeId)) {
        return ((JsonObject) o).getString("state");
      }
    }
    return null;
  }

  @Test
  void thePageShowsEveryNodeAndFollowsAKilledOneWithoutAReload() throws Exception {
    Path chromium = HeadlessChromium.executable();
    Assumptions.assumeTrue(chromium != null, "chromium is not installed (apt-get install chromium): the dashboard's "
        + "browser test is skipped");
    try (Cluster c = new Cluster().start(3); HeadlessChromium page = HeadlessChromium.start(chromium)) {
      NodeProcess first = c.node(0);
      NodeProcess killed = c.node(2);
      List<String> ids = new ArrayList<>();
      c.nodes().forEach(n -> ids.add(n.nodeId()));
      // Something to show: sessions over the owners, and calls for the pools' calls/s and p99.
      for (int i = 0; i < 12; i++) {
        NodeProcess entry = c.node(i % 3);
        assertThat(Http.post(entry.baseUrl() + "/v1/sessions", "{\"id\":\"dash-" + i + "\"}").statusCode())
            .isIn(200, 201);
        for (int k = 0; k < 5; k++) {
          assertThat(Http.post(entry.baseUrl() + "/v1/execute", "{\"tool\":\"echo\",\"args\":{\"k\":" + k
              + "},\"session_id\":\"dash-" + i + "\"}").statusCode()).isEqualTo(200);
        }
      }

      // Calls while the page is open, so that its calls/s and p99 have something to show; stopped before the kill.
      java.util.concurrent.atomic.AtomicBoolean loading = new java.util.concurrent.atomic.AtomicBoolean(true);
      Thread load = new Thread(() -> {
        for (int k = 0; loading.get(); k++) {
          try {
            Http.post(c.node(k % 2).baseUrl() + "/v1/execute", "{\"tool\":\"echo\",\"args\":{\"k\":" + k + "}}");
          } catch (Exception e) {
            return; // the test's own checks say what went wrong
          }
        }
      }, "dashboard-load");
      load.start();
      Path target = Path.of("target");
      try {
        page.viewport(1280, 800, false);
        page.navigate(first.baseUrl() + "/dashboard");
        Poll.until("the page shows the 3 nodes serving, with their workers: ", Cluster.DEADLINE, () -> {
          JsonArray shown = nodesShown(page);
          return shown.size() == 3 && shown.stream().map(o -> (JsonObject) o).allMatch(n ->
              ids.contains(n.getString("id")) && "serving".equals(n.getString("state")) && n.getInteger("workers") == 2);
        });
        Poll.until("the page has a calls/s and a p99 for the pool, and the active sessions", Cluster.DEADLINE, () ->
            !List.of("–", "0").contains(page.evaluate("document.querySelector('#pools [data-label=\"Calls/s\"]')"
                + "?.textContent ?? '–'"))
                && !"–".equals(page.evaluate("document.querySelector('#pools [data-label=\"p99\"]')?.textContent ?? '–'"))
                && "12".equals(page.evaluate("document.getElementById('sum-sessions').textContent")));
        assertThat(page.evaluate("document.getElementById('connection').dataset.connection")).isEqualTo("live");
        page.screenshot(target.resolve("dashboard-1280.png"));
        page.viewport(390, 844, true);
        page.screenshot(target.resolve("dashboard-390.png"));
        page.viewport(1280, 800, false);
      } finally {
        loading.set(false);
        load.join(30_000);
      }

      // Marks this very document: a reload would lose it.
      page.evaluate("window.__notReloaded = 'yes'");
      killed.signal("KILL");
      Poll.until("the page shows " + killed.nodeId() + " left and its departure among the events", Cluster.DEADLINE,
          () -> "left".equals(stateShown(page, killed.nodeId()))
              && Boolean.TRUE.equals(page.evaluate("!!document.querySelector('#events li[data-event-type=\"node.left\"]"
              + "[data-node=\"" + killed.nodeId() + "\"]')")));
      assertThat(page.evaluate("window.__notReloaded")).isEqualTo("yes");
      for (int i = 0; i < 2; i++) {
        assertThat(stateShown(page, c.node(i).nodeId())).isEqualTo("serving");
      }
      assertThat(page.evaluate("document.querySelector('#events li[data-event-type=\"node.left\"]').dataset.reason"))
          .isEqualTo("lost");
      page.screenshot(target.resolve("dashboard-1280-node-killed.png"));
      page.viewport(390, 844, true);
      page.screenshot(target.resolve("dashboard-390-node-killed.png"));
    }
  }
}
