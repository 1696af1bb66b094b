package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.Op;
import java.util.List;

/**
 * Something a checker found that the cluster's contract does not allow.
 *
 * @param checker the checker that found it
 * @param kind a short name for what was found, e.g. {@code lost-write}
 * @param message what was found, in a sentence an operator can act on
 * @param evidence the operations that show it
 */
public record Anomaly(String checker, String kind, String message, List<Op> evidence) {
}
