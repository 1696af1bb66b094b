package io.snakepit.tests.fuzz;

import io.snakepit.contract.ErrorCode;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Sends hostile HTTP/1.1 requests to every route of the node's own OpenAPI document, and to paths
 * that match none: broken and huge bodies, ids and names full of path tricks, wrong and lying
 * headers, bad chunking, NDJSON imports with broken lines. Every answer must be a 2xx, or a typed
 * error: a 4xx whose body is {@code {"error": {"code", "message", "correlation_id"}}} with a
 * documented code. A 5xx is a finding, except {@code tool_failed} (a demo tool raised on the random
 * arguments it was given: the user's code failed, not the node).
 */
final class HttpFuzzer {

  static final String DOOR = "http";

  /** Routes left out: a drain would stop the node being fuzzed. */
  private static final List<String> LEFT_OUT = List.of("/v1/admin/drain");
  private static final List<String> TOOLS = List.of("echo", "noop", "info", "recall", "remember", "incr",
      "count", "no_such_tool", "");
  private static final List<String> CONTENT_TYPES = List.of("application/json", "application/json; charset=utf-8",
      "text/plain", "application/x-ndjson", "multipart/form-data; boundary=x", "application/octet-stream",
      "application/x-www-form-urlencoded", "", "application/json; charset=ebcdic", "\u00ff/\u00fe");
  private static final List<String> METHODS = List.of("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD",
      "TRACE", "CONNECT", "FOO", "get");

  private record Route(String method, String template) {
  }

  private final RandomInput in;
  private final int port;
  private final List<Route> routes = new ArrayList<>();
  private final List<String> knownSessions;
  /** Whether the request being built has a chunk size that does not parse. */
  private boolean brokenFraming;

  HttpFuzzer(RandomInput in, int port, JsonObject openApi, List<String> knownSessions) {
    this.in = in;
    this.port = port;
    this.knownSessions = knownSessions;
    JsonObject paths = openApi.getJsonObject("paths");
    for (String path : paths.fieldNames()) {
      if (!LEFT_OUT.contains(path)) {
        for (String m : paths.getJsonObject(path).fieldNames()) {
          if (List.of("get", "post", "put", "delete", "patch").contains(m)) {
            routes.add(new Route(m.toUpperCase(), path));
          }
        }
      }
    }
  }

  /** Sends one random request and reports what is wrong with its answer. */
  void once(Findings findings) {
    Route route = in.pick(routes);
    String method = in.chance(0.85) ? route.method() : in.pick(METHODS);
    String target = in.chance(0.95) ? fill(route.template()) : "/" + in.nastyString();
    byte[] body = body(route.template());
    brokenFraming = false;
    byte[] request = request(method, target, body);
    findings.sent(DOOR);
    RawHttp.Response r = RawHttp.exchange(port, request, 30_000);
    String sent = Finding.brief(method + " " + target + (brokenFraming ? " (broken chunk) " : " ")
        + new String(body, StandardCharsets.UTF_8), 300);
    String problem = HttpInvariants.problem(method, r, brokenFraming);
    if (problem != null) {
      findings.add(new Finding(DOOR, sent + "\n    got: " + r.status() + " " + Finding.brief(r.bodyText(), 300),
          problem));
    }
  }

  private String fill(String template) {
    StringBuilder b = new StringBuilder();
    int at = 0;
    for (int open = template.indexOf('{'); open >= 0; open = template.indexOf('{', at)) {
      b.append(template, at, open).append(pathValue());
      at = template.indexOf('}', open) + 1;
    }
    String out = b.append(template.substring(at)).toString();
    if (in.chance(0.2)) {
      out += "?" + enc(in.nastyString()) + "=" + enc(in.nastyString());
    }
    return out;
  }

  private String pathValue() {
    return switch (in.below(5)) {
      case 0 -> knownSessions.isEmpty() ? "s" : in.pick(knownSessions);
      case 1 -> java.util.UUID.randomUUID().toString();
      case 2 -> "default";
      case 3 -> in.nastyString().replace(" ", "%20").replace("\r", "%0d").replace("\n", "%0a").replace("#", "%23")
          .replace("?", "%3f");
      default -> enc(in.nastyString());
    };
  }

  private static String enc(String s) {
    return URLEncoder.encode(s.length() > 2_000 ? s.substring(0, 2_000) : s, StandardCharsets.UTF_8);
  }

  private byte[] body(String template) {
    if (template.endsWith("/import")) {
      StringBuilder b = new StringBuilder();
      int lines = in.below(6);
      for (int i = 0; i < lines; i++) {
        b.append(new String(in.jsonBody(), StandardCharsets.UTF_8)).append(in.chance(0.9) ? "\n" : "");
      }
      return b.toString().getBytes(StandardCharsets.UTF_8);
    }
    if (template.contains("execute") && in.chance(0.6)) {
      JsonObject call = new JsonObject().put("tool", in.pick(TOOLS)).put("args", in.chance(0.8)
          ? in.jsonObject(2) : in.jsonValue(2));
      if (in.chance(0.3)) {
        call.put("timeout_ms", in.jsonValue(0));
      }
      if (in.chance(0.2)) {
        call.put("pool", in.chance(0.5) ? "default" : in.nastyString());
      }
      byte[] text = call.encode().getBytes(StandardCharsets.UTF_8);
      return in.chance(0.2) ? in.mutate(text) : text;
    }
    return in.jsonBody();
  }

  private byte[] request(String method, String target, byte[] body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n")
        .append("Host: 127.0.0.1\r\nConnection: close\r\n");
    if (in.chance(0.8)) {
      head.append("Content-Type: ").append(in.pick(CONTENT_TYPES)).append("\r\n");
    }
    if (in.chance(0.2)) {
      head.append("X-Correlation-Id: ").append(in.nastyString().replace("\r", "").replace("\n", "")).append("\r\n");
    }
    if (in.chance(0.05)) {
      head.append("X-Big: ").append("b".repeat(in.below(80_000))).append("\r\n");
    }
    if (in.chance(0.05)) {
      for (int i = 0; i < 200; i++) {
        head.append("X-Many-").append(i).append(": ").append(i).append("\r\n");
      }
    }
    if (in.chance(0.03)) {
      head.append(in.asciiString(30)).append("\r\n"); // a header line that is not one
    }
    boolean chunked = in.chance(0.1);
    if (chunked) {
      head.append("Transfer-Encoding: chunked\r\n\r\n");
      out.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      // A chunk size that does not parse; a huge one that does is a slow request (the hardened server's
      // timeouts answer it), not a malformed one.
      String size = in.chance(0.8) ? Integer.toHexString(body.length) : in.pick(List.of("zz", "-1", "", "0x1"));
      brokenFraming = !size.equals(Integer.toHexString(body.length));
      out.writeBytes((size + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.writeBytes(body);
      out.writeBytes("\r\n0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      return out.toByteArray();
    }
    int length = in.chance(0.95) ? body.length : Math.max(0, body.length - 1 - in.below(10));
    head.append("Content-Length: ").append(length).append("\r\n\r\n");
    out.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
    out.write(body, 0, Math.min(length, body.length));
    return out.toByteArray();
  }

  /** The invariants an answer is held to; a class of its own so that their own test can break them. */
  static final class HttpInvariants {

    private HttpInvariants() {
    }

    /**
     * What is wrong with {@code r} as the answer to a {@code method} request, or null when nothing is. A
     * request whose chunked framing does not parse may have its connection closed without an answer: the
     * server cannot tell where the request ends, and nothing after it on the connection can be trusted.
     */
    static String problem(String method, RawHttp.Response r, boolean brokenFraming) {
      if (r.failure() != null) {
        boolean closed = r.failure().startsWith("connection closed") || r.failure().startsWith("connection failed");
        return brokenFraming && closed ? null : r.failure();
      }
      int s = r.status();
      if (s >= 200 && s < 400) {
        return null;
      }
      if (s < 400 || s >= 600) {
        return "HTTP " + s;
      }
      if ("HEAD".equals(method)) {
        return s >= 500 ? "HTTP " + s + " to HEAD" : null;
      }
      JsonObject err;
      try {
        err = new JsonObject(r.bodyText()).getJsonObject("error");
      } catch (RuntimeException e) {
        err = null;
      }
      if (err == null) {
        return "HTTP " + s + " without a typed error body";
      }
      String code = err.getString("code", "");
      if (ErrorCode.fromCode(code) == ErrorCode.INTERNAL) {
        return "HTTP " + s + " with code '" + code + "'";
      }
      if (err.getString("message", "").isBlank() || err.getString("correlation_id", "").isBlank()) {
        return "HTTP " + s + " " + code + " without a message or correlation id";
      }
      if (s >= 500 && !ErrorCode.TOOL_FAILED.code().equals(code)) {
        return "HTTP " + s + " " + code;
      }
      return null;
    }
  }
}
