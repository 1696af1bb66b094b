package io.snakepit.app.cli;

import io.snakepit.contract.Headers;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Set;

/**
 * The HTTP API of one node, through the JDK's HTTP client (HTTP/1.1). Every
 * request carries a fresh {@code X-Correlation-Id} ({@code cli-...}), so an
 * error the node reports can be found in its log.
 */
final class NodeClient {

  private final URI base;
  private final HttpClient http;
  private final Duration timeout;
  /** The API key or JWT sent with every request, or null. */
  private final String token;

  NodeClient(URI base, Duration connectTimeout, Duration timeout) {
    this(base, connectTimeout, timeout, null, null);
  }

  /**
   * A client whose https connections use {@code tls} (a private CA, a client certificate; null = the JVM's), and
   * whose requests carry {@code token} (an API key or a JWT; null = none).
   */
  NodeClient(URI base, Duration connectTimeout, Duration timeout, javax.net.ssl.SSLContext tls, String token) {
    this.base = base;
    this.timeout = timeout;
    this.token = token;
    HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(connectTimeout)
        .followRedirects(HttpClient.Redirect.NEVER);
    if (tls != null) {
      b.sslContext(tls);
    }
    this.http = b.build();
  }

  URI base() {
    return base;
  }

  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** A request to {@code path} with the correlation id set; {@code timed} adds the per-request timeout. */
  HttpRequest.Builder request(String path, boolean timed) {
    byte[] b = new byte[8];
    new SecureRandom().nextBytes(b);
    HttpRequest.Builder rb = HttpRequest.newBuilder(base.resolve(path.startsWith("/") ? path.substring(1) : path))
        .header(Headers.HTTP_CORRELATION_ID, "cli-" + HexFormat.of().formatHex(b));
    if (timed) {
      rb.timeout(timeout);
    }
    if (token != null) {
      rb.header("Authorization", "Bearer " + token);
    }
    return rb;
  }

  /** GET a JSON answer; an error status is a {@link NodeError}. */
  JsonObject getJson(String path) throws NodeError, Unreachable {
    return json(send(request(path, true).GET().build(), Set.of(200)));
  }

  /** DELETE; completes on 2xx. */
  void delete(String path) throws NodeError, Unreachable {
    send(request(path, true).DELETE().build(), Set.of(200, 204));
  }

  /**
   * Sends a request and returns the answer when its status is one of {@code accepted};
   * any other status is the node's error.
   */
  HttpResponse<String> send(HttpRequest req, Set<Integer> accepted) throws NodeError, Unreachable {
    HttpResponse<String> r = exchange(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    if (!accepted.contains(r.statusCode())) {
      throw error(r.statusCode(), r.body(), r.headers().firstValue(Headers.HTTP_CORRELATION_ID).orElse(null));
    }
    return r;
  }

  /** Sends a request whose answer is read as a stream; an error status is read and thrown. */
  HttpResponse<InputStream> stream(HttpRequest req) throws NodeError, Unreachable {
    HttpResponse<InputStream> r = exchange(req, HttpResponse.BodyHandlers.ofInputStream());
    if (r.statusCode() != 200) {
      String body;
      try (InputStream in = r.body()) {
        body = new String(in.readNBytes(1 << 20), StandardCharsets.UTF_8);
      } catch (IOException e) {
        body = "";
      }
      throw error(r.statusCode(), body, r.headers().firstValue(Headers.HTTP_CORRELATION_ID).orElse(null));
    }
    return r;
  }

  <T> HttpResponse<T> exchange(HttpRequest req, HttpResponse.BodyHandler<T> handler) throws Unreachable {
    try {
      return http.send(req, handler);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Unreachable("interrupted", e);
    } catch (HttpConnectTimeoutException e) {
      throw new Unreachable("connecting timed out", e);
    } catch (HttpTimeoutException e) {
      throw new Unreachable("no answer within " + timeout.toSeconds() + " s (see --timeout)", e);
    } catch (ConnectException e) {
      throw new Unreachable("connection refused; is the node running there?", e);
    } catch (javax.net.ssl.SSLException e) {
      throw new Unreachable("TLS handshake failed (" + e.getMessage() + "); for a node with a private CA give "
          + "--ca-cert, for one that requires client certificates --client-cert and --client-key", e);
    } catch (IOException e) {
      throw new Unreachable(e.getMessage() == null ? e.toString() : e.getMessage(), e);
    }
  }

  static JsonObject json(HttpResponse<String> r) throws NodeError {
    try {
      return new JsonObject(r.body());
    } catch (DecodeException | ClassCastException e) {
      throw new NodeError(r.statusCode(), new JsonObject().put("code", "bad_answer")
          .put("message", "The node's answer is not a JSON object: " + abbreviate(r.body())));
    }
  }

  /** The typed error in an error answer, or one made up from the status when the body is not one. */
  static NodeError error(int status, String body, String cid) {
    JsonObject err = null;
    try {
      JsonObject o = new JsonObject(body);
      err = o.getJsonObject("error");
    } catch (DecodeException | ClassCastException e) {
      // not ours: a proxy's page, say
    }
    if (err == null) {
      err = new JsonObject().put("code", "http_" + status)
          .put("message", "HTTP " + status + (body == null || body.isBlank() ? "" : ": " + abbreviate(body)));
    }
    if (err.getString("correlation_id") == null && cid != null) {
      err.put("correlation_id", cid);
    }
    return new NodeError(status, err);
  }

  static String abbreviate(String s) {
    String t = s == null ? "" : s.strip();
    return t.length() > 200 ? t.substring(0, 200) + "..." : t;
  }
}
