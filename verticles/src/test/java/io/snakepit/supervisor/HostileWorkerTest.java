package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.TEST_ADAPTERS;
import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.protocol.FrameType;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/**
 * A worker that sends frames valid on the wire but wrong for its call (found by tests/fuzz.sh): the call
 * ends with {@code protocol_error}, the worker is replaced, and the pool serves again. Before the fix, an
 * END for a unary call took the call off the worker and then threw, and the call was never answered.
 */
class HostileWorkerTest {

  private static JsonObject pool() {
    return new JsonObject().put("size", 1).put("adapter", "fuzz_adapter:FuzzAdapter")
        .put("python-path", TEST_ADAPTERS).put("backoff-min-ms", 10);
  }

  @Test
  void anEndOrAChunkForAUnaryCallFailsItWithProtocolErrorAndTheWorkerIsReplaced() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool())) {
      eventually("a worker is ready", () -> h.readyPids().size() == 1);
      for (FrameType wrong : new FrameType[] {FrameType.END, FrameType.CHUNK}) {
        long pid = h.readyPids().get(0);
        Throwable t = awaitFailure(h.execute("send_frame", new JsonObject().put("ftype", wrong.code())
            .put("body", new JsonObject().put("item", 1)), 20_000));
        SnakepitException e = SnakepitException.from(t);
        assertThat(e.errorCode()).as("%s: %s", wrong, e.getMessage()).isEqualTo(ErrorCode.PROTOCOL_ERROR);
        assertThat(e.getMessage()).contains("not a stream");
        eventually("the worker is replaced", () -> SupervisorHarness.onlyReadyPidIsNot(h, pid));
        assertThat(await(h.execute("echo", new JsonObject().put("a", 1))).getJsonObject("result").getInteger("a"))
            .isEqualTo(1);
      }
    }
  }

  @Test
  void aFrameTypeAWorkerMayNotSendFailsTheCallWithProtocolError() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool())) {
      eventually("a worker is ready", () -> h.readyPids().size() == 1);
      Throwable t = awaitFailure(h.execute("send_frame", new JsonObject().put("ftype", FrameType.CANCEL.code())
          .put("body", new JsonObject()), 20_000));
      assertThat(SnakepitException.from(t).errorCode()).isEqualTo(ErrorCode.PROTOCOL_ERROR);
      assertThat(await(h.execute("echo", new JsonObject().put("a", 2))).getJsonObject("result").getInteger("a"))
          .isEqualTo(2);
    }
  }
}
