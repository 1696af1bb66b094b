package io.snakepit.app.cli;

/** The node could not be reached, or the connection broke. */
final class Unreachable extends Exception {

  Unreachable(String message, Throwable cause) {
    super(message, cause, false, false);
  }
}
