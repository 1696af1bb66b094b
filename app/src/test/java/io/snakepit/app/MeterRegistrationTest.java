package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A node registers each of its meters once. Micrometer logs "This Gauge has been already registered" (a WARN the
 * first time in a JVM, DEBUG after) when the same gauge is registered again; every node start used to log it for
 * {@code vertx.eventbus.handlers} (and, at DEBUG, {@code vertx.eventbus.pending}), which Vert.x's Micrometer metrics
 * register again for every event-bus consumer.
 */
class MeterRegistrationTest {

  @Test
  void aNodeStartRegistersNoGaugeTwice() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger("io.micrometer.core.instrument.MeterRegistry");
    Level before = logger.getLevel();
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.start();
    // DEBUG too: after its first WARN in a JVM, Micrometer logs the same finding at DEBUG.
    logger.setLevel(Level.DEBUG);
    logger.addAppender(captured);
    try (TestNode node = TestNode.start("meters", new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))))) {
      List<String> doubles = captured.list.stream().map(ILoggingEvent::getFormattedMessage)
          .filter(m -> m.contains("already registered")).toList();
      assertThat(doubles).as("meters registered twice while the node started").isEmpty();
      // A call makes the event bus count (and, before, registered its gauges again for the call's consumers).
      assertThat(node.send("POST", "/v1/execute", "{\"tool\":\"noop\"}").statusCode()).isEqualTo(200);
      assertThat(captured.list.stream().map(ILoggingEvent::getFormattedMessage)
          .filter(m -> m.contains("already registered") && m.contains("vertx.eventbus"))).isEmpty();
      String metrics = node.get("/metrics").body();
      // The event bus's counters are still there; its two per-handler gauges are not exported (Node.PER_HANDLER_GAUGES).
      assertThat(metrics).contains("vertx_eventbus_sent_total").contains("vertx_eventbus_processed_total")
          .doesNotContain("vertx_eventbus_handlers");
    } finally {
      logger.detachAppender(captured);
      logger.setLevel(before);
    }
  }
}
