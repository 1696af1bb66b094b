package io.snakepit.tests.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * HTTP/1.1 over a plain socket, one request per connection: the fuzzer must be able to send what no
 * well-behaved client library would (bad request lines, broken chunking, lying lengths), and read
 * whatever comes back, including nothing.
 */
final class RawHttp {

  /** What came back: a status (0 when the connection ended without one), headers (lower-case names), body. */
  record Response(int status, Map<String, String> headers, byte[] body, String failure) {

    String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  private RawHttp() {
  }

  static Response exchange(int port, byte[] request, int timeoutMs) {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), timeoutMs);
      s.setSoTimeout(timeoutMs);
      try {
        s.getOutputStream().write(request);
        s.getOutputStream().flush();
      } catch (IOException e) {
        // The server may answer (413, 431) and close before it has read everything sent: read what it said.
      }
      return read(s.getInputStream(), deadline);
    } catch (java.net.SocketTimeoutException e) {
      return new Response(0, Map.of(), new byte[0], "no response within " + timeoutMs + " ms");
    } catch (IOException e) {
      return new Response(0, Map.of(), new byte[0], "connection failed: " + e.getClass().getSimpleName());
    }
  }

  /** Reads one response; a body still coming at {@code deadline} (nanoTime) is a timeout, however it trickles. */
  private static Response read(InputStream in, long deadline) throws IOException {
    String statusLine = line(in);
    if (statusLine == null) {
      return new Response(0, Map.of(), new byte[0], "connection closed without a response");
    }
    String[] parts = statusLine.split(" ", 3);
    int status;
    try {
      status = parts.length >= 2 ? Integer.parseInt(parts[1]) : -1;
    } catch (NumberFormatException e) {
      status = -1;
    }
    if (status < 0) {
      return new Response(0, Map.of(), new byte[0], "a status line that is not HTTP");
    }
    Map<String, String> headers = new TreeMap<>();
    for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
      int colon = h.indexOf(':');
      if (colon > 0) {
        headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
      }
    }
    byte[] body;
    if (headers.getOrDefault("content-type", "").startsWith("text/event-stream")) {
      // An event stream (the dashboard's) is endless by design: its head is the answer.
      body = new byte[0];
    } else if (headers.containsKey("content-length")) {
      body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
    } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      body = chunked(in, deadline);
    } else if (status == 204 || status == 304) {
      body = new byte[0];
    } else {
      body = in.readAllBytes();
    }
    return new Response(status, headers, body, null);
  }

  private static byte[] chunked(InputStream in, long deadline) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String size = line(in); size != null; size = line(in)) {
      if (System.nanoTime() > deadline) {
        throw new java.net.SocketTimeoutException("a chunked body still coming at the deadline");
      }
      int n = Integer.parseInt(size.split(";")[0].trim(), 16);
      if (n == 0) {
        break;
      }
      out.write(in.readNBytes(n));
      line(in);
    }
    return out.toByteArray();
  }

  /** One CRLF-ended line, or null at the end of the stream. */
  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\n') {
        byte[] bytes = b.toByteArray();
        int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, len, StandardCharsets.ISO_8859_1);
      }
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
  }
}
