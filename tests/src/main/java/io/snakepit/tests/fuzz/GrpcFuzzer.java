package io.snakepit.tests.fuzz;

import io.snakepit.contract.ErrorCode;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sends hostile gRPC messages over HTTP/2 (prior knowledge, no TLS) to every method of the node's
 * {@code snakepit.v1.Snakepit} service, read from its .proto: random protobuf fields of every wire
 * type, truncated and oversized varints and lengths, a compressed flag with no encoding, a length
 * prefix that lies, two messages for a unary method. Every call must end with OK, or with a status
 * that carries a documented {@code snakepit-error-code} other than {@code internal};
 * {@code UNIMPLEMENTED} for a method that does not exist is the gRPC server's own typed answer.
 */
final class GrpcFuzzer implements AutoCloseable {

  static final String DOOR = "grpc";
  private static final String SERVICE = "snakepit.v1.Snakepit";
  private static final int UNIMPLEMENTED = 12;

  private final RandomInput in;
  private final int port;
  private final List<String> methods = new ArrayList<>();
  private final Vertx vertx = Vertx.vertx();
  private final HttpClientOptions clientOptions;

  GrpcFuzzer(RandomInput in, int port, Path proto) throws IOException {
    this.in = in;
    this.port = port;
    Matcher m = Pattern.compile("rpc\\s+(\\w+)\\s*\\(").matcher(Files.readString(proto));
    while (m.find()) {
      methods.add(m.group(1));
    }
    if (methods.isEmpty()) {
      throw new IllegalStateException("no rpc in " + proto);
    }
    clientOptions = new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false)
        .setDefaultHost("127.0.0.1").setDefaultPort(port).setConnectTimeout(10_000);
  }

  void once(Findings findings) {
    // Past the server's header list limit (8 KiB) the client refuses to send at all: names stay below it.
    String invented = in.nastyString().replaceAll("[^A-Za-z0-9]", "x");
    String method = in.chance(0.95) ? in.pick(methods) : invented.substring(0, Math.min(invented.length(), 2_000));
    String encoding = in.chance(0.05) ? in.pick(List.of("gzip", "br", "x-nothing")) : null;
    Buffer body = frames();
    findings.sent(DOOR);
    String sent = Finding.brief("/" + SERVICE + "/" + method + (encoding == null ? "" : " grpc-encoding " + encoding)
        + " " + body.length() + " bytes " + java.util.HexFormat.of().formatHex(body.getBytes(0,
        Math.min(body.length(), 48))), 200);
    Outcome o;
    try {
      o = call(method, encoding, body);
    } catch (Exception first) {
      // About one call in several hundred of Vert.x's HTTP/2 client gets no response when the server answers
      // before it has read the whole body, while grpcio sending the same inputs (1,500 calls) never waited:
      // the same input is sent once more, on a new connection, and only a second silence is the node's.
      try {
        o = call(method, encoding, body);
      } catch (Exception e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        findings.add(new Finding(DOOR, sent + "\n    got: " + cause, "no answer: " + cause.getClass().getSimpleName()));
        return;
      }
    }
    String problem = problem(o);
    if (problem != null) {
      findings.add(new Finding(DOOR, sent, problem));
    }
  }

  /** One call on a connection of its own, so that an input that breaks one is not blamed on the next. */
  private Outcome call(String method, String encoding, Buffer body) throws Exception {
    HttpClient client = vertx.createHttpClient(clientOptions);
    try {
      return client.request(new RequestOptions().setMethod(HttpMethod.POST).setURI("/" + SERVICE + "/" + method)
              .setTimeout(15_000))
          .compose(req -> {
            req.putHeader("content-type", "application/grpc").putHeader("te", "trailers");
            if (encoding != null) {
              req.putHeader("grpc-encoding", encoding);
            }
            return req.send(body);
          })
          .compose(resp -> resp.body().map(b -> new Outcome(resp.statusCode(), resp.headers(), resp.trailers())))
          .toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
    } finally {
      client.close();
    }
  }

  private record Outcome(int httpStatus, MultiMap headers, MultiMap trailers) {

    String get(String name) {
      String v = trailers.get(name);
      return v != null ? v : headers.get(name);
    }
  }

  private static String problem(Outcome o) {
    if (o.httpStatus() != 200) {
      return "HTTP " + o.httpStatus() + " instead of a gRPC status";
    }
    String status = o.get("grpc-status");
    if (status == null) {
      return "no grpc-status";
    }
    int code = Integer.parseInt(status);
    if (code == 0 || code == UNIMPLEMENTED) {
      return null;
    }
    String typed = o.get("snakepit-error-code");
    if (typed == null) {
      return "grpc-status " + code + " without snakepit-error-code";
    }
    if (ErrorCode.fromCode(typed) == ErrorCode.INTERNAL) {
      return "grpc-status " + code + " with code '" + typed + "'";
    }
    return null;
  }

  /** One or more length-prefixed messages, honest or not. */
  private Buffer frames() {
    Buffer out = Buffer.buffer();
    int count = in.chance(0.9) ? 1 : in.below(3);
    for (int i = 0; i < count; i++) {
      byte[] msg = message(2);
      int flag = in.chance(0.95) ? 0 : 1;
      long length = in.chance(0.93) ? msg.length : in.pick(List.of(0L, (long) msg.length + 7, 0xffffffffL,
          (long) Math.max(0, msg.length - 3)));
      out.appendByte((byte) flag).appendUnsignedInt(length).appendBytes(msg);
    }
    if (in.chance(0.03)) {
      out.appendBytes(in.bytes(4)); // a frame prefix cut short
    }
    return out;
  }

  /** Random protobuf fields: every wire type, on field numbers the messages use and others. */
  private byte[] message(int depth) {
    if (in.chance(0.1)) {
      return in.bytes(64);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int fields = in.below(6);
    for (int f = 0; f < fields; f++) {
      int number = in.chance(0.8) ? 1 + in.below(8) : 1 + in.below(1 << 20);
      int wire = in.chance(0.9) ? in.pick(List.of(0, 2, 2, 2, 1, 5)) : in.below(8);
      varint(out, ((long) number << 3) | wire);
      switch (wire) {
        case 0 -> varint(out, in.chance(0.9) ? in.random().nextLong() : -1L);
        case 1 -> out.writeBytes(in.bytes(8));
        case 5 -> out.writeBytes(in.bytes(4));
        case 2 -> {
          byte[] payload = in.chance(0.4) && depth > 0 ? message(depth - 1)
              : in.nastyString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
          if (payload.length > 4096) {
            payload = java.util.Arrays.copyOf(payload, 4096);
          }
          varint(out, in.chance(0.95) ? payload.length : payload.length + 100);
          out.writeBytes(payload);
        }
        default -> out.writeBytes(in.bytes(3));
      }
    }
    return out.toByteArray();
  }

  private static void varint(ByteArrayOutputStream out, long v) {
    while ((v & ~0x7FL) != 0) {
      out.write((int) ((v & 0x7F) | 0x80));
      v >>>= 7;
    }
    out.write((int) v);
  }

  @Override
  public void close() {
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }
}
