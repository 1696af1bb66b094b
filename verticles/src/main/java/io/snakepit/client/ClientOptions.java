package io.snakepit.client;

/** Options of a {@link SnakepitClient}. */
public final class ClientOptions {

  private String defaultPool;
  private long requestTimeoutMs = 60_000;
  private int streamWindow = 32;

  /** The pool calls go to when they name none; null = the node's first pool. */
  public String getDefaultPool() {
    return defaultPool;
  }

  public ClientOptions setDefaultPool(String defaultPool) {
    this.defaultPool = defaultPool;
    return this;
  }

  /**
   * How long the client waits for any reply on the event bus; a backstop above
   * the calls' own timeouts (default 60 s).
   */
  public long getRequestTimeoutMs() {
    return requestTimeoutMs;
  }

  public ClientOptions setRequestTimeoutMs(long requestTimeoutMs) {
    if (requestTimeoutMs <= 0) {
      throw new IllegalArgumentException("requestTimeoutMs must be positive");
    }
    this.requestTimeoutMs = requestTimeoutMs;
    return this;
  }

  /** How many stream items the worker may send ahead of the reader (default 32). */
  public int getStreamWindow() {
    return streamWindow;
  }

  public ClientOptions setStreamWindow(int streamWindow) {
    if (streamWindow < 1) {
      throw new IllegalArgumentException("streamWindow must be at least 1");
    }
    this.streamWindow = streamWindow;
    return this;
  }
}
