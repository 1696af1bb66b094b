package io.snakepit.tests.chaos.check;

/**
 * What the checkers need to know about a run beyond its history.
 *
 * @param availableMode whether the cluster ran in available (AP) mode, where each side of a partition serves
 *     and two owners of a session are allowed during a partition; {@code false} for majority mode
 */
public record RunFacts(boolean availableMode) {
}
