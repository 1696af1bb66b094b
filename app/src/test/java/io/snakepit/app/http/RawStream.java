package io.snakepit.app.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A streaming request on a plain socket, so that a test can read the start of
 * a stream and then disconnect the way a real client does: by closing the
 * connection. Closing it is the disconnect; nothing else ends the call.
 */
final class RawStream implements AutoCloseable {

  private final Socket socket;
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();

  private RawStream(Socket socket) {
    this.socket = socket;
  }

  /** Sends {@code POST path} with a JSON body and the given extra header lines ("Name: value"). */
  static RawStream post(int port, String path, String body, String... headers) throws IOException {
    Socket socket = new Socket("127.0.0.1", port);
    // A stuck node fails the test instead of hanging it.
    socket.setSoTimeout(30_000);
    StringBuilder head = new StringBuilder("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Content-Type: application/json\r\n");
    for (String h : headers) {
      head.append(h).append("\r\n");
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    head.append("Content-Length: ").append(bytes.length).append("\r\n\r\n");
    socket.getOutputStream().write(head.toString().getBytes(StandardCharsets.UTF_8));
    socket.getOutputStream().write(bytes);
    socket.getOutputStream().flush();
    return new RawStream(socket);
  }

  /** Reads until {@code marker} has arrived; returns everything read so far (headers included). */
  String readUntil(String marker) throws IOException {
    InputStream in = socket.getInputStream();
    byte[] buf = new byte[4096];
    while (!text().contains(marker)) {
      int n = in.read(buf);
      if (n < 0) {
        throw new IOException("the node closed the stream before '" + marker + "'; got:\n" + text());
      }
      received.write(buf, 0, n);
    }
    return text();
  }

  private String text() {
    return received.toString(StandardCharsets.UTF_8);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
