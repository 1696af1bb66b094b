package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static io.snakepit.supervisor.SupervisorHarness.incarnationOf;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameCodec;
import io.snakepit.protocol.FrameType;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.SocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A stranger on the worker socket: garbage, oversized frames, a wrong token,
 * an old protocol, an unknown worker id. Each is refused and closed, and the
 * node's real workers go on serving.
 */
class EndpointSecurityTest {

  private static SocketAddress address(String endpoint) {
    if (endpoint.startsWith("unix:")) {
      return SocketAddress.domainSocketAddress(endpoint.substring(5));
    }
    String[] hp = endpoint.substring(4).split(":");
    return SocketAddress.inetSocketAddress(Integer.parseInt(hp[1]), hp[0]);
  }

  /** Connects, sends bytes, and collects the frames answered until the node closes. */
  private static List<Frame> exchange(SupervisorHarness h, Buffer bytes) {
    List<Frame> got = new CopyOnWriteArrayList<>();
    AtomicBoolean closed = new AtomicBoolean();
    FrameCodec codec = new FrameCodec(1 << 20, got::add);
    // Held until the end: Vert.x closes the connections of a client that is garbage-collected.
    NetClient client = h.vertx.createNetClient();
    try {
      // Handlers go on in the connect callback, on the socket's own event loop, before anything is written.
      await(client.connect(address(h.supervisor().workerEndpoint())).compose(s -> {
        s.handler(codec::feed);
        s.closeHandler(v -> closed.set(true));
        return s.write(bytes);
      }));
      eventually("the node closes the connection", closed::get);
      return got;
    } finally {
      client.close();
    }
  }

  private static Buffer hello(String token, int protocol, String workerId) {
    return FrameCodec.encode(Frame.of(FrameType.HELLO, 0, new JsonObject().put("protocol", protocol)
        .put("token", token).put("worker_id", workerId).put("pid", 1).put("tools", List.of())));
  }

  private static void assertStillServes(SupervisorHarness h, long pid) {
    assertThat(await(h.execute("add", new JsonObject().put("a", 20).put("b", 22))).getInteger("result"))
        .isEqualTo(42);
    assertThat(h.readyPids()).containsExactly(pid);
  }

  @Test
  void strangersAreRefusedAndChangeNothing() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(new JsonObject().put("size", 1))) {
      long pid = h.readyPids().get(0);

      // The id of the node's own worker: only the token gives the stranger away.
      List<Frame> wrongToken = exchange(h, hello("0".repeat(64), 1, h.readyIds("default").get(0)));
      assertThat(wrongToken).hasSize(1);
      assertThat(wrongToken.get(0).type()).isEqualTo(FrameType.REJECT);
      assertThat(wrongToken.get(0).body().getString("code")).isEqualTo("bad_token");

      // Garbage and oversized frames: closed without an answer.
      assertThat(exchange(h, Buffer.buffer("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).isEmpty();
      assertThat(exchange(h, Buffer.buffer().appendInt(Integer.MAX_VALUE).appendByte((byte) 1))).isEmpty();
      // A well-formed frame that is not a HELLO.
      List<Frame> notHello = exchange(h, FrameCodec.encode(Frame.of(FrameType.RESULT, 1, new JsonObject())));
      assertThat(notHello.get(0).body().getString("code")).isEqualTo("bad_handshake");

      assertStillServes(h, pid);
      assertThat(h.pool().getLong("crashes")).isZero();
    }
  }

  @Test
  void protocolMismatchAndUnknownWorkerAreRefusedWithAClearMessage() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(new JsonObject().put("size", 1))) {
      long pid = h.readyPids().get(0);
      String token = tokenOf(h);
      String workerId = h.readyIds("default").get(0);
      List<Frame> old = exchange(h, hello(token, 0, workerId));
      assertThat(old.get(0).body().getString("code")).isEqualTo("protocol_mismatch");
      assertThat(old.get(0).body().getString("message")).contains("protocol 0").contains("node speaks 1");
      // Well-formed, this run's incarnation, but no such worker is starting.
      List<Frame> stranger = exchange(h, hello(token, 1, "default-9.9@" + incarnationOf(workerId)));
      assertThat(stranger.get(0).body().getString("code")).isEqualTo("unknown_worker");
      assertStillServes(h, pid);
    }
  }

  /** The token is in the workers' environment, readable by the same user, as a real attacker could not. */
  private static String tokenOf(SupervisorHarness h) throws Exception {
    long pid = h.readyPids().get(0);
    byte[] env = java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc", Long.toString(pid), "environ"));
    for (String kv : new String(env).split("\0")) {
      if (kv.startsWith("SNAKEPIT_TOKEN=")) {
        return kv.substring("SNAKEPIT_TOKEN=".length());
      }
    }
    throw new AssertionError("no token in the worker's environment");
  }

  @Test
  void aWorkerThatSendsGarbageIsReplaced() throws Exception {
    // The protocol error path for a connected worker: a test adapter writes raw bytes to its socket.
    try (SupervisorHarness h = new SupervisorHarness().start(new JsonObject().put("size", 1)
        .put("backoff-min-ms", 50).put("adapter", "evil_adapter:EvilAdapter")
        .put("python-path", java.nio.file.Path.of("src", "test", "python").toAbsolutePath().toString()))) {
      long pid = h.readyPids().get(0);
      h.execute("corrupt_protocol", new JsonObject());
      eventually("the corrupt worker is replaced", () -> h.readyPids().size() == 1 && !h.readyPids().contains(pid));
      assertThat(await(h.execute("echo", new JsonObject().put("ok", true))).getJsonObject("result")
          .getBoolean("ok")).isTrue();
    }
  }
}
