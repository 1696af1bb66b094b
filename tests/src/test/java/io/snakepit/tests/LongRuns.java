package io.snakepit.tests;

/**
 * The fixed-seed chaos and fuzz runs, minutes of wall time each, check the
 * product's behaviour rather than the JDK it runs on: {@code .ci/run} runs
 * them under the default JDK and skips them, with
 * {@code -Dsnakepit.long-runs=false}, when it verifies the build again under
 * Temurin 25, to keep CI within its time. The same property leaves out the
 * fault-injection system tests there (a profile in tests/pom.xml).
 */
public final class LongRuns {

  /** Why a long run was skipped. */
  public static final String SKIPPED = "long runs are off (-Dsnakepit.long-runs=false): they run under the "
      + "default JDK";

  private LongRuns() {
  }

  /** Whether long runs are on: unless {@code snakepit.long-runs} is {@code false}. */
  public static boolean enabled() {
    return !"false".equalsIgnoreCase(System.getProperty("snakepit.long-runs"));
  }
}
