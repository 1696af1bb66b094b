package io.snakepit.protocol;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes frames, and parses a byte stream into frames without copying more
 * than needed. Layout (docs/protocol.md): u32 length, u8 type, u32 id, u32
 * json_len, json, then attachments as u32 length + bytes.
 *
 * <p>A parser instance is bound to one connection and is not thread-safe; it
 * runs on that connection's event loop.
 */
public final class FrameCodec {

  /** The protocol version this node speaks. */
  public static final int PROTOCOL_VERSION = 1;

  /** Bytes after the length field that every frame has: type, id, json_len. */
  static final int MIN_FRAME = 9;

  private final int maxFrameBytes;
  private final Handler<Frame> frameHandler;
  private Buffer pending = Buffer.buffer();
  private int readPos;

  /**
   * @param maxFrameBytes the largest frame accepted, counted after the length field
   * @param frameHandler  receives each complete frame, in order
   */
  public FrameCodec(int maxFrameBytes, Handler<Frame> frameHandler) {
    this.maxFrameBytes = maxFrameBytes;
    this.frameHandler = frameHandler;
  }

  /** Encodes a frame; the body's {@code byte[]}/{@code Buffer} values become attachments. */
  public static Buffer encode(Frame frame) {
    List<Buffer> attachments = new ArrayList<>(frame.attachments());
    JsonObject body = Attachments.extract(frame.body(), attachments);
    Buffer json = body.isEmpty() ? Buffer.buffer() : body.toBuffer();
    int length = MIN_FRAME + json.length();
    for (Buffer a : attachments) {
      length += 4 + a.length();
    }
    Buffer out = Buffer.buffer(4 + length);
    out.appendInt(length).appendByte((byte) frame.type().code()).appendInt(frame.id())
        .appendInt(json.length()).appendBuffer(json);
    for (Buffer a : attachments) {
      out.appendInt(a.length()).appendBuffer(a);
    }
    return out;
  }

  /**
   * Feeds bytes from the connection. Complete frames go to the handler.
   *
   * @throws ProtocolException on a malformed or oversized frame; the caller closes
   */
  public void feed(Buffer data) {
    if (readPos == pending.length()) {
      pending = data;
      readPos = 0;
    } else {
      // Compact only what is unread, so a slow trickle cannot grow the buffer.
      Buffer rest = pending.getBuffer(readPos, pending.length());
      pending = Buffer.buffer(rest.length() + data.length()).appendBuffer(rest).appendBuffer(data);
      readPos = 0;
    }
    while (pending.length() - readPos >= 4) {
      long length = pending.getUnsignedInt(readPos);
      if (length < MIN_FRAME) {
        throw new ProtocolException("frame length " + length + " is below the minimum of " + MIN_FRAME);
      }
      if (length > maxFrameBytes) {
        throw new ProtocolException("frame of " + length + " bytes exceeds max-frame-bytes " + maxFrameBytes);
      }
      if (pending.length() - readPos < 4 + length) {
        return;
      }
      int start = readPos + 4;
      int end = (int) (start + length);
      readPos = end;
      frameHandler.handle(decode(pending, start, end));
    }
  }

  private static Frame decode(Buffer buf, int start, int end) {
    int typeCode = buf.getUnsignedByte(start);
    FrameType type = FrameType.of(typeCode);
    if (type == null) {
      throw new ProtocolException("unknown frame type " + typeCode);
    }
    int id = buf.getInt(start + 1);
    long jsonLen = buf.getUnsignedInt(start + 5);
    int jsonStart = start + MIN_FRAME;
    if (jsonLen > end - jsonStart) {
      throw new ProtocolException("json_len " + jsonLen + " runs past the end of the frame");
    }
    int jsonEnd = (int) (jsonStart + jsonLen);
    JsonObject body;
    try {
      body = jsonLen == 0 ? new JsonObject() : new JsonObject(buf.getBuffer(jsonStart, jsonEnd));
    } catch (DecodeException | ClassCastException e) {
      throw new ProtocolException("frame body is not a JSON object: " + e.getMessage());
    }
    List<Buffer> attachments = List.of();
    int pos = jsonEnd;
    if (pos < end) {
      attachments = new ArrayList<>();
      while (pos < end) {
        if (end - pos < 4) {
          throw new ProtocolException("truncated attachment length");
        }
        long len = buf.getUnsignedInt(pos);
        pos += 4;
        if (len > end - pos) {
          throw new ProtocolException("attachment of " + len + " bytes runs past the end of the frame");
        }
        attachments.add(buf.getBuffer(pos, (int) (pos + len)));
        pos += (int) len;
      }
      body = Attachments.resolve(body, attachments);
    }
    return new Frame(type, id, body, attachments);
  }
}
