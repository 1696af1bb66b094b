package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Requests the server cannot parse, or that Vert.x Web choked on, get the API's typed error (found by
 * tests/fuzz.sh). Before: 414 and 431 with empty bodies, a bare 400 for a broken request line, and 500
 * {@code internal} for a bad percent-escape in the path or a multipart Content-Type on a GET.
 */
class MalformedRequestsHttpTest {

  static TestNode n;

  @BeforeAll
  static void start() throws Exception {
    n = TestNode.start("malformed-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 1))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (n != null) {
      n.close();
    }
  }

  /** Sends raw bytes on a new connection and reads until the server closes it. */
  private static String exchange(String request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", n.node.httpPort())) {
      s.setSoTimeout(30_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static JsonObject typedError(String response, int status) {
    // HTTP/1.0 when the request line did not parse: the server cannot know the client's version.
    assertThat(response).matches("(?s)HTTP/1\\.[01] " + status + " .*");
    JsonObject err = new JsonObject(response.substring(response.indexOf("\r\n\r\n") + 4)).getJsonObject("error");
    assertThat(err.getString("code")).isEqualTo("bad_request");
    assertThat(err.getString("message")).isNotBlank();
    assertThat(err.getString("correlation_id")).isNotBlank();
    return err;
  }

  @Test
  void aRequestLineTooLongIs414WithATypedBody() throws IOException {
    String r = exchange("GET /v1/sessions/" + "x".repeat(10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(typedError(r, 414).getString("message")).contains("request line is too long");
  }

  @Test
  void headersTooLargeAre431WithATypedBody() throws IOException {
    String r = exchange("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(64 * 1024) + "\r\n\r\n");
    assertThat(typedError(r, 431).getString("message")).contains("headers are too large");
  }

  @Test
  void aRequestLineThatIsNotHttpIs400WithATypedBody() throws IOException {
    typedError(exchange("NOT HTTP AT ALL\r\n\r\n"), 400);
  }

  @Test
  void aBadPercentEscapeInThePathIs400NotInternal() throws IOException {
    String r = exchange("GET /v1/sessions/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertThat(typedError(r, 400).getString("message")).contains("'%'");
  }

  @Test
  void aBadPercentEscapeInTheQueryIs400WithATypedBodyNotBareOrInternal() throws IOException {
    // Was a bare "Bad Request" on a route with a path parameter, and 500 internal on GET /v1/sessions.
    for (String target : new String[] {"/v1/sessions?n%1=x", "/v1/sessions/s-1/variables?n%1\u0010=x",
        "/v1/pools?a=%"}) {
      String r = exchange("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assertThat(typedError(r, 400).getString("message")).as(target).contains("query string").contains("'%'");
    }
  }

  @Test
  void aMultipartBodyIs400NotInternal() throws IOException {
    String r = exchange("GET /v1/pools HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 2\r\n\r\n{}");
    assertThat(typedError(r, 400).getString("message")).contains("JSON bodies");
  }

  @Test
  void anUnknownCharsetIs400NotInternal() throws IOException {
    String r = exchange("PUT /v1/sessions/s1/programs/p1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + "Content-Type: application/json; charset=ebcdic\r\nContent-Length: 2\r\n\r\n{}");
    assertThat(typedError(r, 400).getString("message")).contains("charset");
  }
}
