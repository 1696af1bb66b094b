package io.snakepit.app.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;

/**
 * One HTTP/1.1 connection on a plain socket, for tests that must see what a client library hides: whether the
 * server closed the connection, and when; several requests on one keep-alive connection; a request head sent
 * in part.
 */
final class RawHttpConnection implements AutoCloseable {

  /** A response as read off the wire: the status, the head's lines, the body. */
  record Response(int status, String head, String body) {
    /** A header's value (the first), or null. */
    String header(String name) {
      for (String line : head.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
          return line.substring(colon + 1).trim();
        }
      }
      return null;
    }
  }

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  RawHttpConnection(int port) throws IOException {
    socket = new Socket("127.0.0.1", port);
    // A stuck server fails the test instead of hanging it.
    socket.setSoTimeout(30_000);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  /** Writes bytes as they are (a whole request, or a part of one). */
  RawHttpConnection send(String bytes) throws IOException {
    out.write(bytes.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
    return this;
  }

  /** Sends {@code GET path} (keep-alive) and reads its response. */
  Response get(String path) throws IOException {
    send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    return read();
  }

  /** Reads one response: its head, then a body of its Content-Length. */
  Response read() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("the server closed the connection after " + head.size() + " bytes of a head: "
            + head.toString(StandardCharsets.ISO_8859_1));
      }
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String text = head.toString(StandardCharsets.ISO_8859_1);
    int status = Integer.parseInt(text.substring(9, 12));
    Response withoutBody = new Response(status, text, "");
    String length = withoutBody.header("Content-Length");
    byte[] body = in.readNBytes(length == null ? 0 : Integer.parseInt(length));
    return new Response(status, text, new String(body, StandardCharsets.UTF_8));
  }

  /**
   * Whether the server closes the connection (end of stream, or a reset) before {@code deadline}, reading and
   * dropping whatever it sends meanwhile. False when the connection is still open at the deadline.
   */
  boolean closedWithin(Duration deadline) throws IOException {
    long end = System.nanoTime() + deadline.toNanos();
    byte[] buf = new byte[4096];
    while (System.nanoTime() < end) {
      socket.setSoTimeout((int) Math.max(1, Math.min(250, (end - System.nanoTime()) / 1_000_000)));
      try {
        if (in.read(buf) < 0) {
          return true;
        }
      } catch (SocketTimeoutException e) {
        // still open: read again until the deadline
      } catch (IOException e) {
        String m = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        if (m.contains("reset") || m.contains("closed") || m.contains("broken pipe")) {
          return true;
        }
        throw e;
      }
    }
    return false;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
