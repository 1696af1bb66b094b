package io.snakepit.app.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.Marker;

/**
 * Drops Micrometer's "This Gauge has been already registered" line, and only that line.
 *
 * <p>Vert.x's Micrometer metrics (5.0) register a gauge again each time they need it: for each event-bus
 * consumer ({@code vertx.eventbus.handlers}, {@code vertx.eventbus.pending}) and each HTTP request
 * ({@code vertx.http.server.active.requests}). They read the gauge's id back from the registration and keep the
 * value in one adder per id, so the gauges are right. Micrometer 1.14, though, warns at the first repeated
 * registration in a JVM ({@code vert-x3/vertx-micrometer-metrics#259}), so every node start logged a WARN that asks
 * nothing of the operator. Config/logback.xml installs this filter; an application that embeds Snakepit may add
 * it to its own logback configuration as {@code <turboFilter class="io.snakepit.app.logging.RepeatedGaugeRegistrationFilter"/>}.
 */
public final class RepeatedGaugeRegistrationFilter extends TurboFilter {

  static final String LOGGER = "io.micrometer.core.instrument.MeterRegistry";
  private static final String MESSAGE = "This Gauge has been already registered";

  @Override
  public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
    if (format != null && logger != null && LOGGER.equals(logger.getName()) && format.startsWith(MESSAGE)) {
      return FilterReply.DENY;
    }
    return FilterReply.NEUTRAL;
  }
}
