package io.snakepit.supervisor;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Records what one logger writes, for as long as it is open. */
final class LogCapture implements AutoCloseable {

  private final Logger logger;
  /** The logger's own level before {@link #atDebug} lowered it; restored at close. */
  private Level levelBefore;
  private boolean levelChanged;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>() {
    @Override
    protected void append(ILoggingEvent event) {
      // Snapshot the MDC now: the node clears worker_id and correlation_id right after logging.
      event.prepareForDeferredProcessing();
      synchronized (this) {
        super.append(event);
      }
    }
  };

  LogCapture(String loggerName) {
    logger = (Logger) LoggerFactory.getLogger(loggerName);
    appender.start();
    logger.addAppender(appender);
  }

  LogCapture(Class<?> loggerClass) {
    this(loggerClass.getName());
  }

  /** Also records DEBUG events of this logger while open. */
  LogCapture atDebug() {
    levelBefore = logger.getLevel();
    levelChanged = true;
    logger.setLevel(Level.DEBUG);
    return this;
  }

  /** A copy of the events so far. */
  List<ILoggingEvent> events() {
    synchronized (appender) {
      return new ArrayList<>(appender.list);
    }
  }

  @Override
  public void close() {
    if (levelChanged) {
      logger.setLevel(levelBefore);
    }
    logger.detachAppender(appender);
    appender.stop();
  }
}
