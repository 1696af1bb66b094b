package io.snakepit.app.http;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * {@code multipart/form-data} (RFC 7578) bodies of the execute operations, read from and written to memory.
 *
 * <p>Why its own reader rather than Vert.x's form decoding: the body is already buffered whole, under
 * {@code max-body-bytes}, by the API's body handler; Vert.x would decode a part sent without a file name
 * (what {@code curl -F name=value} sends) as text in some charset, losing bytes that are not valid in it,
 * and write file parts to disk, which costs blocking I/O and a clean-up. Here every part stays exact bytes
 * (a slice of the body, not a copy) and nothing touches the disk.
 */
final class MultipartForm {

  /** The longest head (its header lines) of one part; real ones are a few hundred bytes. */
  static final int MAX_PART_HEAD_BYTES = 8 * 1024;

  private static final byte[] CRLF = {'\r', '\n'};
  private static final byte[] HEAD_END = {'\r', '\n', '\r', '\n'};
  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * One part of a form.
   *
   * @param name        the {@code name} of its {@code Content-Disposition}
   * @param fileName    its {@code filename}, or null
   * @param contentType its {@code Content-Type}, or null when it sent none
   * @param content     its bytes, exactly as sent
   */
  record Part(String name, String fileName, String contentType, Buffer content) {
  }

  private MultipartForm() {
  }

  /** Whether a Content-Type is {@code multipart/form-data}, with or without parameters. */
  static boolean isFormData(String contentType) {
    return contentType != null && mediaType(contentType).equals("multipart/form-data");
  }

  /** The media type of a Content-Type or Accept entry, lower-cased, without parameters. */
  static String mediaType(String value) {
    int semi = value.indexOf(';');
    return (semi < 0 ? value : value.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
  }

  /**
   * The parts of a {@code multipart/form-data} body, in order. Fails with {@link ErrorCode#BAD_REQUEST} saying
   * what is wrong: no boundary, no closing delimiter, a part without a name, a name used twice.
   */
  static List<Part> parse(String contentType, Buffer body, String correlationId) {
    String boundary = parameter(contentType, "boundary");
    if (boundary == null || boundary.isEmpty() || boundary.length() > 70) {
      throw bad("the multipart/form-data Content-Type needs a boundary parameter of 1 to 70 characters",
          correlationId);
    }
    byte[] bytes = body == null ? new byte[0] : body.getBytes();
    byte[] delimiter = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
    byte[] nextDelimiter = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
    // The first delimiter may open the body or follow a preamble and a line break; the preamble is ignored.
    int at;
    if (startsWith(bytes, 0, delimiter)) {
      at = delimiter.length;
    } else {
      int found = indexOf(bytes, nextDelimiter, 0);
      if (found < 0) {
        throw bad("the multipart body has no part delimited by its boundary '" + boundary + "'", correlationId);
      }
      at = found + nextDelimiter.length;
    }
    List<Part> parts = new ArrayList<>();
    while (true) {
      if (startsWith(bytes, at, new byte[] {'-', '-'})) {
        return parts; // the closing delimiter; anything after it is an epilogue
      }
      // Transport padding (spaces, tabs) may follow a delimiter before its line break (RFC 2046).
      while (at < bytes.length && (bytes[at] == ' ' || bytes[at] == '\t')) {
        at++;
      }
      if (!startsWith(bytes, at, CRLF)) {
        throw bad("the multipart body is cut short or malformed after a boundary delimiter (at byte " + at
            + "); it must end with '--" + boundary + "--'", correlationId);
      }
      at += 2;
      int headEnd = startsWith(bytes, at, CRLF) ? at : indexOf(bytes, HEAD_END, at);
      if (headEnd < 0 || headEnd - at > MAX_PART_HEAD_BYTES) {
        throw bad("a part's headers do not end with an empty line within " + MAX_PART_HEAD_BYTES + " bytes",
            correlationId);
      }
      String head = new String(bytes, at, headEnd - at, StandardCharsets.UTF_8);
      int contentStart = headEnd + (headEnd == at ? 2 : 4);
      int contentEnd = indexOf(bytes, nextDelimiter, contentStart);
      if (contentEnd < 0) {
        throw bad("the multipart body ends inside a part; it must end with '--" + boundary + "--'", correlationId);
      }
      Part part = part(head, body.slice(contentStart, contentEnd), correlationId);
      for (Part seen : parts) {
        if (seen.name().equals(part.name())) {
          throw bad("the multipart body has two parts named '" + part.name() + "'; give each part its own name",
              correlationId);
        }
      }
      parts.add(part);
      at = contentEnd + nextDelimiter.length;
    }
  }

  private static Part part(String head, Buffer content, String correlationId) {
    String disposition = null;
    String type = null;
    for (String line : head.split("\r\n")) {
      if (line.isEmpty()) {
        continue;
      }
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw bad("a part has a header line that is not 'Name: value'", correlationId);
      }
      String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = line.substring(colon + 1).trim();
      if (name.equals("content-disposition")) {
        disposition = value;
      } else if (name.equals("content-type")) {
        type = value;
      }
    }
    if (disposition == null || !mediaType(disposition).equals("form-data")) {
      throw bad("each part needs 'Content-Disposition: form-data; name=\"...\"'", correlationId);
    }
    String name = parameter(disposition, "name");
    if (name == null || name.isEmpty()) {
      throw bad("a part's Content-Disposition has no name", correlationId);
    }
    return new Part(name, parameter(disposition, "filename"), type, content);
  }

  /** A parameter of a header value ({@code ; key=value} or {@code ; key="quoted \\" value"}), or null. */
  static String parameter(String headerValue, String key) {
    int i = headerValue.indexOf(';');
    while (i >= 0) {
      int eq = headerValue.indexOf('=', i + 1);
      if (eq < 0) {
        return null;
      }
      String name = headerValue.substring(i + 1, eq).trim();
      StringBuilder value = new StringBuilder();
      int j = eq + 1;
      while (j < headerValue.length() && (headerValue.charAt(j) == ' ' || headerValue.charAt(j) == '\t')) {
        j++;
      }
      int next;
      if (j < headerValue.length() && headerValue.charAt(j) == '"') {
        for (j++; j < headerValue.length() && headerValue.charAt(j) != '"'; j++) {
          char c = headerValue.charAt(j);
          if (c == '\\' && j + 1 < headerValue.length()) {
            c = headerValue.charAt(++j);
          }
          value.append(c);
        }
        next = headerValue.indexOf(';', j);
      } else {
        next = headerValue.indexOf(';', j);
        value.append(headerValue, j, next < 0 ? headerValue.length() : next);
      }
      if (name.equalsIgnoreCase(key)) {
        return value.toString().trim();
      }
      i = next;
    }
    return null;
  }

  /**
   * A {@code multipart/form-data} body of {@code parts} and the Content-Type that names its boundary. Binary
   * parts carry a file name: readers such as a browser's {@code Response.formData()} decode a part without one
   * as text, which would change bytes that are not valid UTF-8.
   */
  static Written write(List<Part> parts) {
    String boundary;
    do {
      boundary = "snakepit-" + HexFormat.of().formatHex(randomBytes());
    } while (occursIn(parts, boundary));
    Buffer out = Buffer.buffer();
    for (Part p : parts) {
      out.appendString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + quote(p.name()) + "\"");
      if (p.fileName() != null) {
        out.appendString("; filename=\"" + quote(p.fileName()) + "\"");
      }
      out.appendString("\r\n");
      if (p.contentType() != null) {
        out.appendString("Content-Type: " + p.contentType() + "\r\n");
      }
      out.appendString("\r\n").appendBuffer(p.content()).appendString("\r\n");
    }
    out.appendString("--" + boundary + "--\r\n");
    return new Written("multipart/form-data; boundary=" + boundary, out);
  }

  /** A written body and its Content-Type. */
  record Written(String contentType, Buffer body) {
  }

  private static byte[] randomBytes() {
    byte[] b = new byte[12];
    RANDOM.nextBytes(b);
    return b;
  }

  /** Whether the boundary appears in a part: then it would end that part early, so another is drawn. */
  private static boolean occursIn(List<Part> parts, String boundary) {
    byte[] b = boundary.getBytes(StandardCharsets.ISO_8859_1);
    for (Part p : parts) {
      if (indexOf(p.content().getBytes(), b, 0) >= 0) {
        return true;
      }
    }
    return false;
  }

  private static String quote(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\r", "").replace("\n", "");
  }

  private static boolean startsWith(byte[] bytes, int at, byte[] prefix) {
    if (at < 0 || at + prefix.length > bytes.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (bytes[at + i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  private static int indexOf(byte[] bytes, byte[] pattern, int from) {
    int last = bytes.length - pattern.length;
    byte first = pattern[0];
    for (int i = Math.max(0, from); i <= last; i++) {
      if (bytes[i] == first && startsWith(bytes, i, pattern)) {
        return i;
      }
    }
    return -1;
  }

  static SnakepitException bad(String reason, String correlationId) {
    return new SnakepitException(ErrorCode.BAD_REQUEST, "The multipart request is malformed: " + reason + ".",
        correlationId, null);
  }
}
