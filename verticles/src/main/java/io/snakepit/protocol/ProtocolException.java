package io.snakepit.protocol;

/** A peer broke the wire protocol; the connection must be closed. */
public final class ProtocolException extends RuntimeException {

  public ProtocolException(String message) {
    super(message, null, false, false);
  }
}
