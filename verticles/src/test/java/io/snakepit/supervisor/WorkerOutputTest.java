package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static io.snakepit.supervisor.SupervisorHarness.supervisionPool;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.vertx.core.json.JsonObject;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What workers write reaches the node's log, tagged with the worker that wrote it. */
class WorkerOutputTest {

  private static Optional<ILoggingEvent> find(LogCapture log, String text) {
    return log.events().stream().filter(e -> e.getFormattedMessage().contains(text)).findFirst();
  }

  @Test
  void stdoutStderrAndLogRecordsReachTheNodesLogTaggedWithTheWorkerId() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(supervisionPool(2));
         LogCapture log = new LogCapture("snakepit.python")) {
      JsonObject said = await(h.execute("say", new JsonObject().put("out", "plain print 5f0c")
          .put("err", "to stderr 5f0c")));
      String worker = said.getString("worker");
      eventually("both lines are logged", () -> find(log, "plain print 5f0c").isPresent()
          && find(log, "to stderr 5f0c").isPresent());

      ILoggingEvent out = find(log, "plain print 5f0c").get();
      assertThat(out.getFormattedMessage()).isEqualTo("[" + worker + "] stdout: plain print 5f0c");
      assertThat(out.getMDCPropertyMap()).containsEntry("worker_id", worker);
      assertThat(out.getLevel()).isEqualTo(Level.INFO);
      ILoggingEvent err = find(log, "to stderr 5f0c").get();
      assertThat(err.getFormattedMessage()).isEqualTo("[" + worker + "] stderr: to stderr 5f0c");
      assertThat(err.getMDCPropertyMap()).containsEntry("worker_id", worker);
      assertThat(err.getLevel()).isEqualTo(Level.WARN);
    }
  }

  @Test
  void aToolsLoggerRecordCarriesTheCallsCorrelationId() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(new JsonObject().put("size", 1));
         LogCapture log = new LogCapture("snakepit.python")) {
      String worker = await(h.execute("log", new JsonObject().put("message", "from ctx.logger 77ab")))
          .getString("worker");
      eventually("the record is logged", () -> find(log, "from ctx.logger 77ab").isPresent());
      ILoggingEvent rec = find(log, "from ctx.logger 77ab").get();
      assertThat(rec.getFormattedMessage()).startsWith("[" + worker + "] ");
      assertThat(rec.getMDCPropertyMap()).containsEntry("worker_id", worker).containsEntry("correlation_id", "cid-test");
    }
  }
}
