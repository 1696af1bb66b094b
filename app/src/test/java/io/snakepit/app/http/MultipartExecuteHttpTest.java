package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Binary arguments and results over HTTP: {@code multipart/form-data} bodies for {@code POST /v1/execute} whose
 * parts a tool gets as {@code bytes}, and multipart answers, against a real node with real Python workers.
 */
class MultipartExecuteHttpTest {

  private static final String BOUNDARY = "test-boundary-7f3a";
  private static final int MAX_BODY = 8 * 1024 * 1024;
  /** Bytes that are not UTF-8: a lone continuation byte, an overlong lead, 0xff and 0xfe, and a NUL. */
  private static final byte[] NOT_UTF8 = {(byte) 0xff, (byte) 0xfe, 0x00, (byte) 0x80, (byte) 0xc3, 0x28, '\r', '\n',
      '-', '-'};

  static TestNode node;

  @BeforeAll
  static void start() throws Exception {
    node = TestNode.start("multipart-test", new JsonObject().put("max-body-bytes", MAX_BODY)
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))));
  }

  @AfterAll
  static void stop() throws Exception {
    node.close();
  }

  /** One part of a form the test sends: a name, an optional file name and Content-Type, and its bytes. */
  record Part(String name, String fileName, String contentType, byte[] content) {
    static Part json(String name, String json) {
      return new Part(name, null, null, json.getBytes(StandardCharsets.UTF_8));
    }

    static Part file(String name, byte[] content) {
      return new Part(name, name + ".bin", "application/octet-stream", content);
    }
  }

  static byte[] form(List<Part> parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Part p : parts) {
      StringBuilder head = new StringBuilder("--" + BOUNDARY + "\r\nContent-Disposition: form-data; name=\"")
          .append(p.name()).append('"');
      if (p.fileName() != null) {
        head.append("; filename=\"").append(p.fileName()).append('"');
      }
      head.append("\r\n");
      if (p.contentType() != null) {
        head.append("Content-Type: ").append(p.contentType()).append("\r\n");
      }
      out.writeBytes(head.append("\r\n").toString().getBytes(StandardCharsets.UTF_8));
      out.writeBytes(p.content());
      out.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
    }
    out.writeBytes(("--" + BOUNDARY + "--\r\n").getBytes(StandardCharsets.UTF_8));
    return out.toByteArray();
  }

  static HttpResponse<byte[]> post(String path, String contentType, byte[] body, String accept, String cid)
      throws Exception {
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(node.url() + path)).timeout(Duration.ofSeconds(60))
        .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (accept != null) {
      req.header("Accept", accept);
    }
    if (cid != null) {
      req.header("X-Correlation-Id", cid);
    }
    return node.http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  static HttpResponse<byte[]> postForm(String path, List<Part> parts, String accept, String cid) throws Exception {
    return post(path, "multipart/form-data; boundary=" + BOUNDARY, form(parts), accept, cid);
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static JsonObject json(HttpResponse<byte[]> r) {
    return new JsonObject(Buffer.buffer(r.body()));
  }

  /** The parts of a multipart answer by name, read with the node's own reader. */
  static Map<String, MultipartForm.Part> parts(HttpResponse<byte[]> r) {
    String type = r.headers().firstValue("Content-Type").orElseThrow();
    assertThat(type).startsWith("multipart/form-data; boundary=");
    Map<String, MultipartForm.Part> byName = new LinkedHashMap<>();
    for (MultipartForm.Part p : MultipartForm.parse(type, Buffer.buffer(r.body()), "test")) {
      byName.put(p.name(), p);
    }
    return byName;
  }

  @Test
  void binaryPartsReachTheToolAsTheSameBytes() throws Exception {
    byte[] blob = new byte[3 * 1024 * 1024 + 7];
    new Random(15).nextBytes(blob);
    String request = "{\"tool\":\"digest\",\"args\":{\"data\":{\"$part\":\"image\"},\"blob\":{\"$part\":\"blob\"},"
        + "\"text\":\"plain\"}}";
    HttpResponse<byte[]> r = postForm("/v1/execute", List.of(Part.json("request", request),
        Part.file("image", NOT_UTF8), Part.file("blob", blob)), null, null);
    assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    JsonObject result = json(r).getJsonObject("result");
    assertThat(result.getJsonObject("data")).isEqualTo(new JsonObject().put("type", "bytes")
        .put("length", NOT_UTF8.length).put("sha256", sha256(NOT_UTF8)));
    assertThat(result.getJsonObject("blob")).isEqualTo(new JsonObject().put("type", "bytes")
        .put("length", blob.length).put("sha256", sha256(blob)));
    assertThat(result.getJsonObject("text").getString("type")).isEqualTo("str");
  }

  @Test
  void aRequestPartSentAsJsonWithAFileNameAndNestedReferencesWork() throws Exception {
    // curl -F 'request=@req.json;type=application/json': a file name and an explicit JSON type.
    HttpResponse<byte[]> r = postForm("/v1/execute", List.of(new Part("request", "req.json",
            "application/json; charset=utf-8", "{\"tool\":\"echo\",\"args\":{\"list\":[{\"$part\":\"a\"},1,{\"$part\":\"a\"}]}}"
            .getBytes(StandardCharsets.UTF_8)), new Part("a", null, null, NOT_UTF8)),
        "multipart/form-data", null);
    assertThat(r.statusCode()).isEqualTo(200);
    Map<String, MultipartForm.Part> parts = parts(r);
    JsonObject answer = new JsonObject(parts.get("response").content());
    assertThat(parts.get("response").contentType()).isEqualTo("application/json");
    var list = answer.getJsonObject("result").getJsonArray("list");
    assertThat(list.getValue(1)).isEqualTo(1);
    for (int i : new int[] {0, 2}) {
      String name = list.getJsonObject(i).getString("$part");
      assertThat(parts.get(name).content().getBytes()).isEqualTo(NOT_UTF8);
      assertThat(parts.get(name).fileName()).isEqualTo(name);
    }
    assertThat(answer.getString("worker")).startsWith("default-");
  }

  @Test
  void aBinaryResultComesAsAPartWhenTheClientAsksAndAsBase64OtherwiseInJson() throws Exception {
    byte[] body = "{\"tool\":\"bytes_echo\",\"args\":{\"size\":70000}}".getBytes(StandardCharsets.UTF_8);
    byte[] expected = new byte[70000];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = (byte) i;
    }
    HttpResponse<byte[]> form = post("/v1/execute", "application/json", body,
        "application/json;q=0.5, multipart/form-data", null);
    assertThat(form.statusCode()).isEqualTo(200);
    Map<String, MultipartForm.Part> parts = parts(form);
    assertThat(parts.keySet()).containsExactly("response", "bytes-0");
    assertThat(new JsonObject(parts.get("response").content()).getJsonObject("result"))
        .isEqualTo(new JsonObject().put("$part", "bytes-0"));
    assertThat(parts.get("bytes-0").content().getBytes()).isEqualTo(expected);
    assertThat(parts.get("bytes-0").contentType()).isEqualTo("application/octet-stream");

    HttpResponse<byte[]> plain = post("/v1/execute", "application/json", body, null, null);
    assertThat(plain.headers().firstValue("Content-Type")).hasValue("application/json");
    // JSON carries bytes as URL-safe base64 without padding (docs/http-api.md).
    assertThat(Base64.getUrlDecoder().decode(json(plain).getString("result"))).isEqualTo(expected);
  }

  @Test
  void aToolsOwnPartShapedObjectIsNotPassedOffAsAPart() throws Exception {
    byte[] body = "{\"tool\":\"echo\",\"args\":{\"x\":{\"$part\":\"bytes-0\"}}}".getBytes(StandardCharsets.UTF_8);
    HttpResponse<byte[]> r = post("/v1/execute", "application/json", body, "multipart/form-data", "own-part-1");
    assertThat(r.statusCode()).isEqualTo(500);
    JsonObject err = json(r).getJsonObject("error");
    assertThat(err.getString("code")).isEqualTo("tool_failed");
    assertThat(err.getString("correlation_id")).isEqualTo("own-part-1");
    // As JSON the same object is just data.
    assertThat(json(post("/v1/execute", "application/json", body, null, null)).getJsonObject("result"))
        .isEqualTo(new JsonObject().put("x", new JsonObject().put("$part", "bytes-0")));
  }

  @Test
  void badFormsAre400sAndRunNothing() throws Exception {
    assertThat(node.send("POST", "/v1/sessions", "{\"id\":\"forms\"}").statusCode()).isEqualTo(201);
    String incr = "{\"tool\":\"incr\",\"args\":{\"name\":\"n\",\"extra\":{\"$part\":\"data\"}}}";
    Map<String, byte[]> cases = new LinkedHashMap<>();
    cases.put("no request part", form(List.of(Part.file("data", NOT_UTF8))));
    cases.put("a reference to a missing part", form(List.of(Part.json("request", incr))));
    cases.put("an unreferenced part", form(List.of(Part.json("request", incr), Part.file("data", NOT_UTF8),
        Part.file("typo", NOT_UTF8))));
    cases.put("bad JSON", form(List.of(Part.json("request", "{\"tool\": "), Part.file("data", NOT_UTF8))));
    cases.put("JSON that breaks the schema", form(List.of(Part.json("request", "{\"tool\":\"incr\",\"nope\":1}"))));
    cases.put("a request part that is not JSON", form(List.of(new Part("request", null, "text/plain",
        incr.getBytes(StandardCharsets.UTF_8)), Part.file("data", NOT_UTF8))));
    cases.put("two parts of one name", form(List.of(Part.json("request", incr), Part.file("data", NOT_UTF8),
        Part.file("data", NOT_UTF8))));
    byte[] whole = form(List.of(Part.json("request", incr), Part.file("data", NOT_UTF8)));
    cases.put("a cut body", java.util.Arrays.copyOf(whole, whole.length - 10));
    cases.put("no boundary in the body", "{\"tool\":\"incr\"}".getBytes(StandardCharsets.UTF_8));
    List<String> messages = new ArrayList<>();
    for (Map.Entry<String, byte[]> c : cases.entrySet()) {
      HttpResponse<byte[]> r = post("/v1/sessions/forms/execute", "multipart/form-data; boundary=" + BOUNDARY,
          c.getValue(), null, "bad-form-1");
      assertThat(r.statusCode()).as(c.getKey()).isEqualTo(400);
      JsonObject err = json(r).getJsonObject("error");
      assertThat(err.getString("code")).as(c.getKey()).isEqualTo("bad_request");
      assertThat(err.getString("correlation_id")).isEqualTo("bad-form-1");
      messages.add(c.getKey() + ": " + err.getString("message"));
    }
    assertThat(messages.get(0)).contains("no part named 'request'");
    assertThat(messages.get(1)).contains("refers to the part 'data'");
    assertThat(messages.get(2)).contains("'typo' is not referred to");
    assertThat(messages.get(5)).contains("text/plain");
    // A form without a boundary parameter, a multipart/mixed body, and a form on a stream route.
    for (String[] c : new String[][] {{"/v1/execute", "multipart/form-data"},
        {"/v1/execute", "multipart/mixed; boundary=" + BOUNDARY}, {"/v1/execute/stream", "multipart/form-data; "
        + "boundary=" + BOUNDARY}}) {
      HttpResponse<byte[]> r = post(c[0], c[1], whole, null, null);
      assertThat(r.statusCode()).as(c[1]).isEqualTo(400);
      assertThat(json(r).getJsonObject("error").getString("code")).isEqualTo("bad_request");
    }
    // Nothing ran: the counter was never made. And a good form runs the tool, once.
    assertThat(node.get("/v1/sessions/forms/variables/n").statusCode()).isEqualTo(404);
    HttpResponse<byte[]> ok = post("/v1/sessions/forms/execute", "multipart/form-data; boundary=" + BOUNDARY,
        form(List.of(Part.json("request", "{\"tool\":\"incr\",\"args\":{\"name\":\"n\"}}"))), null, null);
    assertThat(ok.statusCode()).as(new String(ok.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    assertThat(new JsonObject(node.get("/v1/sessions/forms/variables/n").body()).getInteger("value")).isEqualTo(1);
  }

  @Test
  void aFormOverMaxBodyBytesIs413() throws Exception {
    byte[] blob = new byte[MAX_BODY + 1];
    HttpResponse<byte[]> r = postForm("/v1/execute", List.of(Part.json("request",
        "{\"tool\":\"digest\",\"args\":{\"data\":{\"$part\":\"blob\"}}}"), Part.file("blob", blob)), null, null);
    assertThat(r.statusCode()).isEqualTo(413);
    assertThat(json(r).getJsonObject("error").getString("code")).isEqualTo("payload_too_large");
  }
}
