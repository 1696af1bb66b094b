package io.snakepit.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameCodecTest {

  private static List<Frame> parse(Buffer... chunks) {
    List<Frame> out = new ArrayList<>();
    FrameCodec codec = new FrameCodec(1 << 20, out::add);
    for (Buffer c : chunks) {
      codec.feed(c);
    }
    return out;
  }

  @Test
  void roundTripsFramesSplitAtEveryByte() {
    Frame f = Frame.of(FrameType.REQUEST, 42, new JsonObject().put("tool", "echo").put("args",
        new JsonObject().put("x", 1)));
    Buffer wire = FrameCodec.encode(f).appendBuffer(FrameCodec.encode(Frame.of(FrameType.PING, 0, new JsonObject())));
    List<Frame> out = new ArrayList<>();
    FrameCodec codec = new FrameCodec(1 << 20, out::add);
    for (int i = 0; i < wire.length(); i++) {
      codec.feed(wire.getBuffer(i, i + 1));
    }
    assertThat(out).hasSize(2);
    assertThat(out.get(0).type()).isEqualTo(FrameType.REQUEST);
    assertThat(out.get(0).id()).isEqualTo(42);
    assertThat(out.get(0).body()).isEqualTo(f.body());
    assertThat(out.get(1).type()).isEqualTo(FrameType.PING);
    assertThat(out.get(1).body()).isEqualTo(new JsonObject());
  }

  @Test
  void binaryValuesBecomeAttachmentsAndComeBack() {
    byte[] bytes = new byte[] {0, 1, 2, (byte) 255};
    // Binary values sit in the backing collections: JsonObject.put would base64 them at once.
    JsonObject inner = new JsonObject();
    inner.getMap().put("b", Buffer.buffer("xyz"));
    JsonArray arr0 = new JsonArray();
    arr0.getList().add(bytes);
    arr0.add("text").add(inner);
    JsonObject body = new JsonObject().put("result", arr0);
    Buffer wire = FrameCodec.encode(Frame.of(FrameType.RESULT, 1, body));
    assertThat(wire.toString()).contains("\"$att\":0").contains("\"$att\":1").doesNotContain("AAEC");
    Frame back = parse(wire).get(0);
    JsonArray arr = back.body().getJsonArray("result");
    assertThat(arr.getBuffer(0).getBytes()).isEqualTo(bytes);
    assertThat(arr.getString(1)).isEqualTo("text");
    assertThat(arr.getJsonObject(2).getBuffer("b").toString()).isEqualTo("xyz");
  }

  @Test
  void refusesMalformedFrames() {
    assertThatThrownBy(() -> parse(Buffer.buffer().appendInt(3))).hasMessageContaining("minimum");
    assertThatThrownBy(() -> parse(Buffer.buffer().appendInt(2_000_000))).hasMessageContaining("max-frame-bytes");
    assertThatThrownBy(() -> parse(Buffer.buffer().appendInt(9).appendByte((byte) 99).appendInt(0).appendInt(0)))
        .hasMessageContaining("unknown frame type 99");
    assertThatThrownBy(() -> parse(Buffer.buffer().appendInt(9).appendByte((byte) 5).appendInt(0).appendInt(50)))
        .hasMessageContaining("json_len");
    Buffer notJson = Buffer.buffer("[1]");
    assertThatThrownBy(() -> parse(Buffer.buffer().appendInt(9 + 3).appendByte((byte) 5).appendInt(0).appendInt(3)
        .appendBuffer(notJson))).hasMessageContaining("not a JSON object");
    Buffer placeholder = new JsonObject().put("result", new JsonObject().put("$att", 3)).toBuffer();
    assertThatThrownBy(() -> parse(Buffer.buffer().appendInt(9 + placeholder.length() + 5).appendByte((byte) 5)
        .appendInt(1).appendInt(placeholder.length()).appendBuffer(placeholder).appendInt(1).appendByte((byte) 7)))
        .hasMessageContaining("placeholder names attachment 3");
    assertThatThrownBy(() -> parse(Buffer.buffer().appendInt(9 + 2).appendByte((byte) 5).appendInt(0).appendInt(0)
        .appendByte((byte) 0).appendByte((byte) 0))).hasMessageContaining("truncated attachment");
  }
}
