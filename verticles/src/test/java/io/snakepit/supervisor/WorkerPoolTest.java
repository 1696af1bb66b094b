package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Calls on a pool of real Python workers: results, errors, timeouts, queueing, concurrency. */
class WorkerPoolTest {

  private static JsonObject pool(int size) {
    // Calls left running at the end of a test need not be waited for long.
    return new JsonObject().put("size", size).put("drain-timeout-ms", 200).put("stop-grace-ms", 500);
  }

  @Test
  void runsToolsAndReportsWorkerAndNode() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(2))) {
      JsonObject echo = await(h.execute("echo", new JsonObject().put("x", 1).put("s", "héllo")));
      assertThat(echo.getJsonObject("result")).isEqualTo(new JsonObject().put("x", 1).put("s", "héllo"));
      assertThat(echo.getString("worker")).startsWith("default-");
      assertThat(echo.getString("node")).isEqualTo("test-node");
      assertThat(await(h.execute("add", new JsonObject().put("a", 2).put("b", 40))).getInteger("result"))
          .isEqualTo(42);
      assertThat(await(h.execute("async_echo", new JsonObject().put("y", true))).getJsonObject("result"))
          .isEqualTo(new JsonObject().put("y", true));
      JsonObject info = await(h.execute("info", new JsonObject())).getJsonObject("result");
      assertThat(h.readyPids()).contains(info.getLong("pid"));
      assertThat(h.workers()).hasSize(2);
    }
  }

  @Test
  void bytesTravelAsAttachments() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      Buffer result = await(h.execute("bytes_echo", new JsonObject().put("size", 100_000))).getBuffer("result");
      assertThat(result.length()).isEqualTo(100_000);
    }
  }

  @Test
  void toolExceptionBecomesToolFailedWithTraceback() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("fail",
          new JsonObject().put("message", "kaput")));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.TOOL_FAILED);
      assertThat(e.getMessage()).contains("kaput");
      assertThat(e.details().getString("type")).contains("RuntimeError");
      assertThat(e.details().getString("traceback")).contains("Traceback");
      assertThat(e.correlationId()).isEqualTo("cid-test");
      // the worker survives a failing tool
      assertThat(await(h.execute("add", new JsonObject().put("a", 1).put("b", 1))).getInteger("result")).isEqualTo(2);
    }
  }

  @Test
  void unknownToolListsTheToolsAndBadArgumentsAreBadRequest() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("nope", new JsonObject()));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.UNKNOWN_TOOL);
      assertThat(e.details().getJsonArray("tools").getList()).contains("echo", "add", "count");
      SnakepitException bad = (SnakepitException) awaitFailure(h.execute("add", new JsonObject().put("zz", 1)));
      assertThat(bad.errorCode()).isEqualTo(ErrorCode.BAD_REQUEST);
    }
  }

  @Test
  void timeoutCancelsACooperativeToolAndTheWorkerLives() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      long pid = h.readyPids().get(0);
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("sleep",
          new JsonObject().put("ms", 60_000), 200));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.TIMEOUT);
      // the same process serves the next call once the cancel landed
      JsonObject next = await(h.execute("info", new JsonObject()));
      assertThat(next.getJsonObject("result").getLong("pid")).isEqualTo(pid);
    }
  }

  @Test
  void timeoutKillsAToolThatIgnoresCancelAndReplacesTheWorker() throws Exception {
    JsonObject cfg = pool(1).put("cancel-grace-ms", 300);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      long pid = h.readyPids().get(0);
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("hang",
          new JsonObject().put("ms", 60_000), 200));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.TIMEOUT);
      eventually("the hung worker is killed", () -> !SupervisorHarness.alive(pid));
      eventually("a replacement is ready", () -> h.readyPids().size() == 1 && !h.readyPids().contains(pid));
      assertThat(await(h.execute("add", new JsonObject().put("a", 1).put("b", 2))).getInteger("result")).isEqualTo(3);
    }
  }

  @Test
  void fullQueueFailsAtOnceWithOverloaded() throws Exception {
    JsonObject cfg = pool(1).put("queue-size", 1).put("queue-timeout-ms", 60_000);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      Future<JsonObject> running = h.execute("sleep", new JsonObject().put("ms", 60_000), 60_000);
      eventually("the first call runs", () -> h.pool().getInteger("queue_depth") == 0
          && h.workers().getJsonObject(0).getInteger("inflight") == 1);
      Future<JsonObject> queued = h.execute("echo", new JsonObject());
      eventually("the second call is queued", () -> h.pool().getInteger("queue_depth") == 1);
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("echo", new JsonObject()));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.OVERLOADED);
      assertThat(queued.isComplete()).isFalse();
      assertThat(running.isComplete()).isFalse();
    }
  }

  @Test
  void queuedCallTimesOutWithQueueTimeout() throws Exception {
    JsonObject cfg = pool(1).put("queue-timeout-ms", 200);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      h.execute("sleep", new JsonObject().put("ms", 60_000), 60_000);
      eventually("the first call runs", () -> h.workers().getJsonObject(0).getInteger("inflight") == 1);
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("echo", new JsonObject()));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.QUEUE_TIMEOUT);
      assertThat(h.pool().getInteger("queue_depth")).isZero();
    }
  }

  @Test
  void aWorkerRunsSeveralCallsAtOnceWhenItsPoolAllowsIt() throws Exception {
    JsonObject cfg = pool(1).put("concurrency", 4);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      List<Future<JsonObject>> calls = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        calls.add(h.execute("sleep", new JsonObject().put("ms", 1_000), 30_000));
      }
      eventually("four calls in flight on one worker",
          () -> h.workers().getJsonObject(0).getInteger("inflight") == 4);
      for (Future<JsonObject> c : calls) {
        assertThat(await(c).getString("worker")).isEqualTo(h.workers().getJsonObject(0).getString("id"));
      }
    }
  }

  @Test
  void stdoutAndStderrNoiseFromUserCodeDoesNotCorruptAnything() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      long pid = h.readyPids().get(0);
      assertThat(await(h.execute("print_noise", new JsonObject().put("lines", 500))).getString("result"))
          .isEqualTo("ok");
      assertThat(await(h.execute("echo", new JsonObject().put("after", "noise"))).getJsonObject("result"))
          .isEqualTo(new JsonObject().put("after", "noise"));
      assertThat(h.readyPids()).containsExactly(pid);
    }
  }

  @Test
  void streamsHonourCreditSoASlowConsumerBoundsTheWorker() throws Exception {
    // One worker, two calls at once: "produced" reads the generator's progress while the stream is open.
    JsonObject cfg = SupervisorHarness.supervisionPool(1).put("concurrency", 2).put("drain-timeout-ms", 200)
        .put("stop-grace-ms", 500);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      List<Object> items = new CopyOnWriteArrayList<>();
      List<String> ends = new CopyOnWriteArrayList<>();
      StreamHandle[] handle = new StreamHandle[1];
      h.onContext(() -> handle[0] = h.supervisor().stream(
          new ExecuteRequest(null, "produce", new JsonObject().put("n", 1_000), 0, null, "cid-s"),
          new StreamObserver() {
            @Override
            public void onItem(Object item) {
              items.add(item);
            }

            @Override
            public void onEnd() {
              ends.add("end");
            }

            @Override
            public void onError(SnakepitException error) {
              ends.add("error " + error.getMessage());
            }
          }, 2));
      eventually("two items arrive", () -> items.size() == 2);
      // Asked in the worker itself: the generator has made no more than the credit, however often we look.
      for (int i = 0; i < 5; i++) {
        assertThat((Integer) await(h.execute("produced", new JsonObject())).getValue("result")).isEqualTo(2);
      }
      assertThat(items).hasSize(2);
      assertThat(ends).isEmpty();
      h.onContext(() -> {
        handle[0].request(3);
        return null;
      });
      eventually("three more items arrive", () -> items.size() == 5);
      assertThat((Integer) await(h.execute("produced", new JsonObject())).getValue("result")).isEqualTo(5);
      h.onContext(() -> {
        handle[0].request(10_000);
        return null;
      });
      eventually("the stream ends", () -> ends.size() == 1);
      assertThat(ends).containsExactly("end");
      assertThat(items).hasSize(1_000);
      assertThat(items.get(999)).isEqualTo(999);
    }
  }

  @Test
  void cancellingAStreamStopsIt() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      List<String> ends = new CopyOnWriteArrayList<>();
      List<Object> items = new CopyOnWriteArrayList<>();
      StreamHandle[] handle = new StreamHandle[1];
      h.onContext(() -> handle[0] = h.supervisor().stream(
          new ExecuteRequest(null, "count", new JsonObject().put("n", 1_000_000).put("delay_ms", 1), 0, null, "c"),
          new StreamObserver() {
            @Override
            public void onItem(Object item) {
              items.add(item);
            }

            @Override
            public void onEnd() {
              ends.add("end");
            }

            @Override
            public void onError(SnakepitException error) {
              ends.add(error.errorCode().code());
            }
          }, 4));
      eventually("items flow", () -> items.size() >= 4);
      h.onContext(() -> {
        handle[0].cancel();
        return null;
      });
      eventually("the stream is cancelled", () -> ends.size() == 1);
      assertThat(ends).containsExactly("cancelled");
      eventually("the worker is free again", () -> h.workers().getJsonObject(0).getInteger("inflight") == 0);
      assertThat(await(h.execute("add", new JsonObject().put("a", 1).put("b", 1))).getInteger("result")).isEqualTo(2);
    }
  }

  @Test
  void eventBusExecuteCarriesTypedErrors() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      await(h.vertx.deployVerticle(new io.snakepit.routing.RoutingVerticle(),
          new io.vertx.core.DeploymentOptions().setConfig(new JsonObject().put("node-id", "test-node"))));
      JsonObject ok = await(h.vertx.eventBus().<JsonObject>request(Addresses.EXECUTE,
          new JsonObject().put("tool", "add").put("args", new JsonObject().put("a", 1).put("b", 2)))).body();
      assertThat(ok.getInteger("result")).isEqualTo(3);
      Throwable t = awaitFailure(h.vertx.eventBus().request(Addresses.EXECUTE,
          new JsonObject().put("tool", 7)));
      SnakepitException e = SnakepitException.from(t);
      assertThat(e.errorCode()).isEqualTo(ErrorCode.BAD_REQUEST);
      assertThat(e.getMessage()).contains("'tool'");
      JsonArray workers = await(h.vertx.eventBus().<JsonObject>request(Addresses.WORKERS, new JsonObject()))
          .body().getJsonArray("workers");
      assertThat(workers).hasSize(1);
    }
  }
}
