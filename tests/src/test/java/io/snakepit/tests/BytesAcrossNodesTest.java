package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.BytePaths;
import io.snakepit.contract.Headers;
import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Bytes stay bytes when the node that takes a call is not the one that runs it: a multipart call sent to node A
 * in a session that node B owns reaches B's tool as {@code bytes}, and B's {@code bytes} result reaches A's
 * client as a binary part; an application on the cluster's event bus gets the same, both ways.
 */
@org.junit.jupiter.api.extension.ExtendWith(PrintNodeLogsOnFailure.class)
class BytesAcrossNodesTest {

  private static final String BOUNDARY = "bytes-across-nodes-7f3a";
  /** Not valid UTF-8, with a NUL: what a str would have mangled or could not hold. */
  private static final byte[] NOT_UTF8 = {(byte) 0x80, (byte) 0xC0, (byte) 0xAF, 0, (byte) 0xFF, 'a', (byte) 0xFE};
  /** What the demo tool bytes_echo returns for a size: the bytes 0..255, repeated. */
  private static final int SIZE = 70_001;
  /** As the harness's {@link Http}: the JDK's client, which Java 17 cannot close (its threads are daemons). */
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();

  @Test
  void bytesCrossToTheSessionsOwnerAndBackAsBytes() throws Exception {
    try (Cluster c = new Cluster().start(2)) {
      NodeProcess entry = c.node(0);
      NodeProcess owner = c.node(1);
      String session = sessionOwnedBy(entry, owner);

      // To A, in B's session: forwarded to B, whose tool must see bytes with A's client's sha256.
      byte[] blob = new byte[200_003];
      new Random(23).nextBytes(blob);
      String request = "{\"tool\":\"digest\",\"args\":{\"data\":{\"$part\":\"image\"},"
          + "\"more\":[1,{\"$part\":\"blob\"}],\"nested\":{\"inner\":{\"$part\":\"image\"}},"
          + "\"mine\":{\"$bytes\":\"x\"},\"text\":\"gMCvAP9h\"}}";
      HttpResponse<byte[]> r = postForm(entry.baseUrl() + "/v1/sessions/" + session + "/execute", request,
          Map.of("image", NOT_UTF8, "blob", blob), null);
      assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
      JsonObject answer = new JsonObject(Buffer.buffer(r.body()));
      assertThat(answer.getString("node")).as("the node that ran the call").isEqualTo(owner.nodeId());
      JsonObject seen = answer.getJsonObject("result");
      assertThat(seen.getJsonObject("data")).isEqualTo(described("bytes", NOT_UTF8));
      // Python's digest describes a list or a dict by its type only; their bytes are checked by echo below.
      assertThat(seen.getJsonObject("more").getString("type")).isEqualTo("list");
      assertThat(seen.getJsonObject("mine").getString("type")).isEqualTo("dict");
      // A string that happens to be base64 stays a string.
      assertThat(seen.getJsonObject("text")).isEqualTo(described("str", "gMCvAP9h".getBytes(StandardCharsets.UTF_8)));

      // Nested bytes, and a value of the caller's shaped like a marker, come back from B's echo as they went.
      String echo = "{\"tool\":\"echo\",\"args\":{\"more\":[1,{\"$part\":\"blob\"}],"
          + "\"nested\":{\"inner\":{\"$part\":\"image\"}},\"mine\":{\"$bytes\":\"x\"}}}";
      HttpResponse<byte[]> echoed = postForm(entry.baseUrl() + "/v1/sessions/" + session + "/execute", echo,
          Map.of("image", NOT_UTF8, "blob", blob), "multipart/form-data");
      assertThat(echoed.statusCode()).as(new String(echoed.body(), StandardCharsets.UTF_8)).isEqualTo(200);
      Map<String, byte[]> echoParts = parts(echoed);
      JsonObject echoAnswer = new JsonObject(Buffer.buffer(echoParts.get("response")));
      assertThat(echoAnswer.getString("node")).isEqualTo(owner.nodeId());
      JsonObject echoResult = echoAnswer.getJsonObject("result");
      assertThat(echoResult.getJsonObject("mine")).isEqualTo(new JsonObject().put("$bytes", "x"));
      String blobPart = echoResult.getJsonArray("more").getJsonObject(1).getString("$part");
      String imagePart = echoResult.getJsonObject("nested").getJsonObject("inner").getString("$part");
      assertThat(echoParts.get(blobPart)).isEqualTo(blob);
      assertThat(echoParts.get(imagePart)).isEqualTo(NOT_UTF8);

      // A bytes result of B's, asked of A as a multipart answer: a binary part, intact.
      HttpResponse<byte[]> out = postForm(entry.baseUrl() + "/v1/sessions/" + session + "/execute",
          "{\"tool\":\"bytes_echo\",\"args\":{\"size\":" + SIZE + "}}", Map.of(), "multipart/form-data");
      assertThat(out.statusCode()).as(new String(out.body(), StandardCharsets.UTF_8)).isEqualTo(200);
      Map<String, byte[]> outParts = parts(out);
      JsonObject outAnswer = new JsonObject(Buffer.buffer(outParts.get("response")));
      assertThat(outAnswer.getString("node")).isEqualTo(owner.nodeId());
      assertThat(outAnswer.getJsonObject("result")).isEqualTo(new JsonObject().put("$part", "bytes-0"));
      assertThat(outParts.get("bytes-0")).isEqualTo(pattern(SIZE));

      // An application on the event bus, to A in B's session: bytes named in the header reach B's tool, and
      // the result's bytes come back named in the reply's header.
      Vertx app = c.joinAsApplication();
      try {
        JsonObject call = new JsonObject().put("tool", "bytes_echo").put("session_id", session);
        JsonObject args = new JsonObject();
        args.getMap().put("data", Buffer.buffer(NOT_UTF8));
        call.put("args", args);
        DeliveryOptions options = BytePaths.mark(new DeliveryOptions().setSendTimeout(30_000), call);
        Message<JsonObject> reply = app.eventBus().<JsonObject>request(Addresses.node(entry.nodeId(), "execute"),
            call, options).await();
        assertThat(reply.headers().get(Headers.BYTES_AT)).isEqualTo("[[\"result\"]]");
        JsonObject body = BytePaths.restore(reply);
        assertThat(body.getString("node")).isEqualTo(owner.nodeId());
        assertThat(body.getMap().get("result")).isEqualTo(Buffer.buffer(NOT_UTF8));
      } finally {
        app.close().await();
      }
    }
  }

  /** A new session, created through {@code entry}, whose owner is {@code owner}. */
  private static String sessionOwnedBy(NodeProcess entry, NodeProcess owner) throws Exception {
    for (int i = 0; i < 64; i++) {
      String id = "bytes-" + i;
      assertThat(Http.post(entry.baseUrl() + "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode())
          .isEqualTo(201);
      if (owner.nodeId().equals(Http.getJson(entry.baseUrl() + "/v1/sessions/" + id).getString("owner"))) {
        return id;
      }
    }
    throw new AssertionError("none of 64 sessions is owned by " + owner.nodeId());
  }

  private static JsonObject described(String type, byte[] bytes) throws Exception {
    return new JsonObject().put("type", type).put("length", bytes.length)
        .put("sha256", HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
  }

  private static byte[] pattern(int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) i;
    }
    return b;
  }

  /** Posts a form: the part {@code request} holding {@code json}, then one binary part per entry of {@code files}. */
  private static HttpResponse<byte[]> postForm(String url, String json, Map<String, byte[]> files, String accept)
      throws Exception {
    ByteArrayOutputStream form = new ByteArrayOutputStream();
    form.writeBytes(("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" + json
        + "\r\n").getBytes(StandardCharsets.UTF_8));
    for (Map.Entry<String, byte[]> f : files.entrySet()) {
      form.writeBytes(("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"" + f.getKey()
          + "\"; filename=\"" + f.getKey() + ".bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
          .getBytes(StandardCharsets.UTF_8));
      form.writeBytes(f.getValue());
      form.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
    }
    form.writeBytes(("--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.UTF_8));
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
        .header("Content-Type", "multipart/form-data; boundary=" + BOUNDARY)
        .POST(HttpRequest.BodyPublishers.ofByteArray(form.toByteArray()));
    if (accept != null) {
      req.header("Accept", accept);
    }
    return HTTP.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /** The parts of a multipart answer by name: what lies between its boundary lines, after each part's headers. */
  private static Map<String, byte[]> parts(HttpResponse<byte[]> r) {
    String type = r.headers().firstValue("Content-Type").orElseThrow();
    assertThat(type).startsWith("multipart/form-data; boundary=");
    byte[] delimiter = ("\r\n--" + type.substring(type.indexOf("boundary=") + 9)).getBytes(StandardCharsets.UTF_8);
    byte[] body = new byte[r.body().length + 2];
    body[0] = '\r';
    body[1] = '\n';
    System.arraycopy(r.body(), 0, body, 2, r.body().length);
    Map<String, byte[]> parts = new LinkedHashMap<>();
    int at = indexOf(body, delimiter, 0);
    while (at >= 0) {
      int start = at + delimiter.length;
      if (body[start] == '-' && body[start + 1] == '-') {
        break; // the closing delimiter
      }
      int next = indexOf(body, delimiter, start);
      int headersEnd = indexOf(body, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), start);
      String headers = new String(body, start, headersEnd - start, StandardCharsets.UTF_8);
      int nameAt = headers.indexOf("name=\"") + 6;
      parts.put(headers.substring(nameAt, headers.indexOf('"', nameAt)), Arrays.copyOfRange(body, headersEnd + 4,
          next));
      at = next;
    }
    return parts;
  }

  private static int indexOf(byte[] haystack, byte[] needle, int from) {
    outer:
    for (int i = from; i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
