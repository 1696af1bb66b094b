package io.snakepit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageCodec;
import io.vertx.core.eventbus.impl.codecs.JsonObjectMessageCodec;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Bytes survive the trip between JVMs: a forwarded call's arguments (the {@link ExecuteRequestCodec}'s wire form,
 * and the JSON the routers forward with its {@link Headers#BYTES_AT} header), its result on the way back, and a
 * stream's items; values of the caller's own that look like markers arrive as they were sent.
 */
class BytePathsTest {

  /** Not valid UTF-8 (a lone continuation byte, an overlong form, 0xFF), with a NUL: bytes a string would mangle. */
  private static final byte[] NOT_UTF8 = {(byte) 0x80, (byte) 0xC0, (byte) 0xAF, 0, (byte) 0xFF, 'a'};

  private static JsonObject argsWithBytes() {
    JsonObject args = new JsonObject();
    // Written through the backing map and list, as the front doors do: JsonObject.put may convert.
    args.getMap().put("image", Buffer.buffer(NOT_UTF8));
    args.getMap().put("empty", Buffer.buffer());
    args.getMap().put("raw", new byte[] {1, 2, 3});
    JsonObject nested = new JsonObject();
    nested.getMap().put("deep", Buffer.buffer("déjà".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    JsonArray list = new JsonArray();
    list.getList().add("plain");
    list.getList().add(7);
    list.getList().add(Buffer.buffer(new byte[] {(byte) 0xFE, (byte) 0xFF}));
    JsonArray inner = new JsonArray();
    inner.getList().add(Buffer.buffer(new byte[] {9}));
    list.getList().add(inner);
    nested.getMap().put("list", list);
    args.getMap().put("nested", nested);
    return args;
  }

  /** What the caller wrote itself and must get back as it is: marker-like objects, and strings that are base64. */
  private static JsonObject userValuesThatLookLikeMarkers() {
    return new JsonObject()
        .put("bytes_marker", new JsonObject().put("$bytes", "x"))
        .put("paths_marker", new JsonObject().put("$bytes_at", new JsonArray().add(new JsonArray().add("args"))))
        .put("attachment_marker", new JsonObject().put("$att", 0))
        .put("part_marker", new JsonObject().put("$part", "image"))
        .put("base64_text", "AAEC")
        .put("empty_text", "");
  }

  /** Read through the backing map and list: JsonObject.getValue shows bytes as base64 text whatever they are. */
  private static void assertBytesRestored(JsonObject args) {
    java.util.Map<String, Object> map = args.getMap();
    assertThat(map.get("image")).isInstanceOf(Buffer.class).isEqualTo(Buffer.buffer(NOT_UTF8));
    assertThat(map.get("empty")).isInstanceOf(Buffer.class).isEqualTo(Buffer.buffer());
    assertThat(map.get("raw")).isInstanceOf(Buffer.class).isEqualTo(Buffer.buffer(new byte[] {1, 2, 3}));
    JsonObject nested = args.getJsonObject("nested");
    assertThat(nested.getMap().get("deep"))
        .isEqualTo(Buffer.buffer("déjà".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    java.util.List<Object> list = nested.getJsonArray("list").getList();
    assertThat(list.get(0)).isEqualTo("plain");
    assertThat(list.get(1)).isEqualTo(7);
    assertThat(list.get(2)).isInstanceOf(Buffer.class).isEqualTo(Buffer.buffer(new byte[] {(byte) 0xFE, (byte) 0xFF}));
    assertThat(nested.getJsonArray("list").getJsonArray(3).getList().get(0)).isEqualTo(Buffer.buffer(new byte[] {9}));
  }

  @Test
  void aRequestKeepsItsNestedBytesThroughTheCodecsWireForm() {
    JsonObject args = argsWithBytes().mergeIn(userValuesThatLookLikeMarkers());
    ExecuteRequest sent = new ExecuteRequest("p", "digest", args, 5_000, "s1", "cid-1",
        ExecuteRequest.Affinity.HINT);
    Buffer wire = Buffer.buffer();
    ExecuteRequestCodec.INSTANCE.encodeToWire(wire, sent);

    ExecuteRequest received = ExecuteRequestCodec.INSTANCE.decodeFromWire(0, wire);

    assertBytesRestored(received.args());
    assertThat(received.args().copy().getMap()).containsAllEntriesOf(userValuesThatLookLikeMarkers().getMap());
    assertThat(received.tool()).isEqualTo("digest");
    assertThat(received.sessionId()).isEqualTo("s1");
    assertThat(received.correlationId()).isEqualTo("cid-1");
  }

  @Test
  void aRequestWithoutBytesHasNoTrailerAndMarkerLikeValuesStayData() {
    JsonObject args = userValuesThatLookLikeMarkers();
    ExecuteRequest sent = new ExecuteRequest(null, "echo", args, 0, null, "cid-2");
    Buffer wire = Buffer.buffer();
    ExecuteRequestCodec.INSTANCE.encodeToWire(wire, sent);

    assertThat(wire.length()).isEqualTo(4 + wire.getInt(0)); // the JSON alone: the earlier wire form
    ExecuteRequest received = ExecuteRequestCodec.INSTANCE.decodeFromWire(0, wire);
    assertThat(received).isEqualTo(sent);
    assertThat(received.args().getValue("base64_text")).isEqualTo("AAEC");
  }

  @Test
  void aDecoderOfTheEarlierVersionReadsTheNewFormAsJsonWithBase64Strings() {
    ExecuteRequest sent = new ExecuteRequest(null, "digest", argsWithBytes(), 0, null, null);
    Buffer wire = Buffer.buffer().appendString("header"); // the body follows the message's own fields
    int pos = wire.length();
    ExecuteRequestCodec.INSTANCE.encodeToWire(wire, sent);

    // The earlier decoder: the JSON by its length, nothing after it.
    int length = wire.getInt(pos);
    JsonObject old = new JsonObject(wire.getBuffer(pos + 4, pos + 4 + length));

    assertThat(old.getJsonObject("args").getMap().get("image")).isInstanceOf(String.class);
    assertThat(old.getJsonObject("args").getBinary("image")).isEqualTo(NOT_UTF8);
    assertThat(ExecuteRequestCodec.INSTANCE.decodeFromWire(pos, wire).args().getMap().get("image"))
        .isEqualTo(Buffer.buffer(NOT_UTF8));
  }

  @Test
  void aForwardedCallsJsonAndItsResultKeepTheirBytesWithTheHeader() {
    // What a router forwards, and what the owner replies: a JsonObject on Vert.x's own JSON codec between
    // JVMs, the paths of its bytes in the header.
    JsonObject request = new ExecuteRequest(null, "digest", argsWithBytes().mergeIn(userValuesThatLookLikeMarkers()),
        0, "s1", null).toJson();
    JsonObject result = new JsonObject().put("worker", "w").put("node", "n");
    result.getMap().put("result", argsWithBytes().mergeIn(userValuesThatLookLikeMarkers()));

    for (JsonObject body : new JsonObject[] {request, result}) {
      DeliveryOptions options = BytePaths.mark(new DeliveryOptions(), body);
      JsonObject received = acrossJvms(body);
      String header = options.getHeaders().get(Headers.BYTES_AT);

      BytePaths.restore(received, new JsonArray(header));

      JsonObject values = received.getJsonObject(body == request ? "args" : "result");
      assertBytesRestored(values);
      assertThat(values.copy().getMap()).containsAllEntriesOf(userValuesThatLookLikeMarkers().getMap());
    }
    assertThat(new JsonArray(BytePaths.mark(new DeliveryOptions(), request).getHeaders().get(Headers.BYTES_AT)))
        .contains(new JsonArray().add("args").add("image"),
            new JsonArray().add("args").add("nested").add("list").add(2));
  }

  @Test
  void aBodyWithoutBytesGetsNoHeaderAndAForeignHeaderBreaksNothing() {
    JsonObject plain = userValuesThatLookLikeMarkers();
    assertThat(BytePaths.mark(new DeliveryOptions(), plain).getHeaders()).isNull();

    JsonObject received = acrossJvms(plain);
    // Paths that lead nowhere, to an object or a number, through a string, or to text that is not base64
    // ("x"): all left alone, as is anything that is not a path.
    BytePaths.restore(received, new JsonArray("[[\"missing\",\"x\"],[\"bytes_marker\"],[\"empty_text\",0],"
        + "[\"attachment_marker\",\"$att\"],[],[\"base64_text\",\"deeper\"],\"not-a-path\",7,"
        + "[\"bytes_marker\",\"$bytes\"]]"));

    assertThat(received).isEqualTo(plain);
    assertThat(received.getValue("base64_text")).isEqualTo("AAEC");
  }

  @Test
  void theSharedCodecsWireFormCarriesBytesToo() throws Exception {
    JsonObject reply = new JsonObject();
    reply.getMap().put("result", argsWithBytes());
    Buffer wire = Buffer.buffer();
    LocalCodecs.writeJson(wire, reply);
    assertBytesRestored(LocalCodecs.readJson(0, wire).getJsonObject("result"));
  }

  @Test
  void aStreamSinkGetsItemsFromAnotherNodeAsBytes() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      JsonObject item = new JsonObject().put("type", "item");
      item.getMap().put("item", argsWithBytes());
      // As it arrives from another node: its JSON decoded, the bytes as base64, the header naming them.
      JsonObject asDecoded = acrossJvms(item);
      DeliveryOptions options = BytePaths.mark(new DeliveryOptions(), item);
      CompletableFuture<JsonObject> got = new CompletableFuture<>();
      StreamLiveness liveness = new StreamLiveness(vertx, () -> { });
      await(vertx.eventBus().<JsonObject>consumer("test.sink", liveness.sink(got::complete)).completion());

      vertx.eventBus().send("test.sink", asDecoded, options);

      assertBytesRestored(got.get(30, TimeUnit.SECONDS).getJsonObject("item"));
    } finally {
      await(vertx.close());
    }
  }

  /** A body as another JVM decodes it: through Vert.x's own JSON codec's wire form. */
  private static JsonObject acrossJvms(JsonObject body) {
    MessageCodec<JsonObject, JsonObject> codec = new JsonObjectMessageCodec();
    Buffer wire = Buffer.buffer();
    codec.encodeToWire(wire, body);
    return codec.decodeFromWire(0, wire);
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
