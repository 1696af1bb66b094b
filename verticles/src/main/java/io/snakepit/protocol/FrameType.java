package io.snakepit.protocol;

/** Frame types of the worker protocol; codes as in docs/protocol.md. */
public enum FrameType {
  HELLO(1), WELCOME(2), REJECT(3), REQUEST(4), RESULT(5), ERROR(6), CHUNK(7), END(8),
  CREDIT(9), CANCEL(10), PING(11), PONG(12), LOG(13), CALL(14), CALL_RESULT(15),
  SHUTDOWN(16), SESSION_CLOSED(17);

  private static final FrameType[] BY_CODE = new FrameType[32];

  static {
    for (FrameType t : values()) {
      BY_CODE[t.code] = t;
    }
  }

  private final int code;

  FrameType(int code) {
    this.code = code;
  }

  public int code() {
    return code;
  }

  /** The type for a wire code, or {@code null} when the code is unknown. */
  public static FrameType of(int code) {
    return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
  }
}
