package io.snakepit.config;

/** A configuration value is missing, unknown, of the wrong type or impossible; the message names the key. */
public final class ConfigException extends RuntimeException {

  public ConfigException(String message) {
    super(message, null, false, false);
  }
}
