package io.snakepit.tests;

import io.snakepit.tests.harness.NodeLogs;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Prints the tail of every node log of a failed multi-node test: the nodes'
 * directories are gone by then, and a failure that depends on the machine's
 * load may not repeat.
 */
public final class PrintNodeLogsOnFailure implements BeforeEachCallback, TestWatcher {

  @Override
  public void beforeEach(ExtensionContext context) {
    NodeLogs.clear();
  }

  @Override
  public void testFailed(ExtensionContext context, Throwable cause) {
    System.out.println("=== node logs of the failed test " + context.getDisplayName() + " ===");
    NodeLogs.kept().forEach(System.out::println);
  }
}
