package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.vertx.core.json.JsonObject;
import java.net.URL;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Micrometer's "This Gauge has been already registered" WARN, which every node start logged: Vert.x's Micrometer
 * metrics register some gauges again by design (RepeatedGaugeRegistrationFilter says why). The node's logging
 * configuration drops that line and nothing else, and the gauges stay exported. The system test
 * NodeLifecycleTest checks a real node's log.
 */
class MeterRegistrationTest {

  private static final String MICROMETER = "io.micrometer.core.instrument.MeterRegistry";

  @Test
  void theNodesLoggingConfigurationDropsTheRepeatedGaugeWarningAndNothingElse() throws Exception {
    // The packaged logback.xml (the same as config/logback.xml), in a context of its own.
    URL config = Node.class.getClassLoader().getResource("logback.xml");
    assertThat(config).isNotNull();
    LoggerContext context = new LoggerContext();
    try {
      JoranConfigurator configurator = new JoranConfigurator();
      configurator.setContext(context);
      configurator.doConfigure(config);
      ListAppender<ILoggingEvent> captured = new ListAppender<>();
      captured.setContext(context);
      captured.start();
      Logger micrometer = context.getLogger(MICROMETER);
      micrometer.addAppender(captured);
      micrometer.warn("This Gauge has been already registered (MeterId{name='vertx.eventbus.handlers', tags=[]}), "
          + "the registration will be ignored. Note that subsequent logs will be logged at debug level.");
      micrometer.warn("A MeterFilter is being configured after a Meter has been registered to this registry.");
      context.getLogger("io.snakepit.x").addAppender(captured);
      context.getLogger("io.snakepit.x").warn("This Gauge has been already registered: not Micrometer's line");
      assertThat(captured.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
          "A MeterFilter is being configured after a Meter has been registered to this registry.",
          "This Gauge has been already registered: not Micrometer's line");
    } finally {
      context.stop();
    }
  }

  @Test
  void vertxsGaugesAreExported() throws Exception {
    try (TestNode node = TestNode.start("meters", new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))))) {
      assertThat(node.send("POST", "/v1/execute", "{\"tool\":\"noop\"}").statusCode()).isEqualTo(200);
      String metrics = node.get("/metrics").body();
      List<String> handlers = metrics.lines().filter(l -> l.startsWith("vertx_eventbus_handlers")).toList();
      // One adder per gauge id behind the repeated registrations: the node's consumers are all counted.
      assertThat(handlers).isNotEmpty();
      assertThat(Double.parseDouble(handlers.get(0).substring(handlers.get(0).lastIndexOf(' ') + 1)))
          .isGreaterThan(1);
      assertThat(metrics).contains("vertx_eventbus_sent_total").contains("vertx_eventbus_processed_total");
    }
  }
}
