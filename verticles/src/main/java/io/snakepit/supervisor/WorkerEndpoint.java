package io.snakepit.supervisor;

import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameCodec;
import io.snakepit.protocol.FrameType;
import io.snakepit.protocol.ProtocolException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The socket workers connect to. Checks each connection's handshake (token,
 * protocol version, expected worker id) before handing it to its
 * {@link WorkerProcess}; anything else is refused with a REJECT frame and
 * closed, and never reaches a pool.
 */
final class WorkerEndpoint {

  private static final Logger LOG = LoggerFactory.getLogger(WorkerEndpoint.class);
  private static final long HANDSHAKE_TIMEOUT_MS = 10_000;

  private final Vertx vertx;
  private final String token;
  private final int maxFrameBytes;
  private final Function<String, WorkerProcess> awaiting;
  private NetServer server;
  private String endpoint;

  /**
   * @param awaiting finds the starting worker with a given id, or null
   */
  WorkerEndpoint(Vertx vertx, String token, int maxFrameBytes, Function<String, WorkerProcess> awaiting) {
    this.vertx = vertx;
    this.token = token;
    this.maxFrameBytes = maxFrameBytes;
    this.awaiting = awaiting;
  }

  /** The address workers get in SNAKEPIT_ENDPOINT. */
  String endpoint() {
    return endpoint;
  }

  /**
   * Listens on a Unix socket under {@code runDir} when the native transport
   * allows it (and {@code transport} is not {@code tcp}), else on loopback TCP.
   */
  Future<Void> listen(Path runDir, String transport) {
    boolean unix = !"tcp".equals(transport) && vertx.isNativeTransportEnabled();
    if ("unix".equals(transport) && !unix) {
      return Future.failedFuture(new IllegalStateException(
          "transport=unix needs Netty's native epoll transport, which is not available here; use transport=auto"));
    }
    server = vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true));
    server.connectHandler(this::onConnect);
    if (unix) {
      Path sock = runDir.resolve("worker.sock");
      return server.listen(SocketAddress.domainSocketAddress(sock.toString()))
          .onSuccess(s -> endpoint = "unix:" + sock)
          .mapEmpty();
    }
    return server.listen(0, "127.0.0.1")
        .onSuccess(s -> endpoint = "tcp:127.0.0.1:" + s.actualPort())
        .mapEmpty();
  }

  Future<Void> close() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  private void onConnect(NetSocket socket) {
    Connection conn = new Connection(socket);
    socket.handler(data -> {
      try {
        conn.codec.feed(data);
      } catch (ProtocolException e) {
        conn.protocolError(e.getMessage());
      } catch (RuntimeException e) {
        // A bug of ours must not take the node down; the worker is replaced to be safe.
        LOG.error("Unexpected error handling a worker frame", e);
        conn.protocolError("internal error: " + e);
      }
    });
    socket.closeHandler(v -> conn.closed());
    // A worker killed mid-write resets its connection; the close handler deals with it.
    socket.exceptionHandler(t -> LOG.debug("Worker connection error: {}", t.toString()));
    conn.handshakeTimer = vertx.setTimer(HANDSHAKE_TIMEOUT_MS, t -> {
      if (conn.worker == null) {
        LOG.warn("Closing a worker connection that sent no handshake within {} ms", HANDSHAKE_TIMEOUT_MS);
        socket.close();
      }
    });
  }

  /** One accepted connection: handshake first, then frames go to the worker. */
  private final class Connection {
    final NetSocket socket;
    final FrameCodec codec;
    WorkerProcess worker;
    long handshakeTimer;
    boolean rejected;

    Connection(NetSocket socket) {
      this.socket = socket;
      this.codec = new FrameCodec(maxFrameBytes, this::onFrame);
    }

    void onFrame(Frame f) {
      if (rejected) {
        return;
      }
      if (worker != null) {
        worker.onFrame(f);
        return;
      }
      vertx.cancelTimer(handshakeTimer);
      if (f.type() != FrameType.HELLO) {
        reject("bad_handshake", "the first frame must be HELLO, got " + f.type());
        return;
      }
      JsonObject hello = f.body();
      String given = hello.getString("token", "");
      if (!MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8))) {
        reject("bad_token", "the handshake token does not match this node's; only workers started by the node may connect");
        return;
      }
      Object version = hello.getValue("protocol");
      if (!(version instanceof Number n) || n.intValue() != FrameCodec.PROTOCOL_VERSION) {
        reject("protocol_mismatch", "worker speaks protocol " + version + ", node speaks "
            + FrameCodec.PROTOCOL_VERSION + ": install the snakepit_worker package that ships with this node");
        return;
      }
      String id = hello.getString("worker_id");
      WorkerProcess w = id == null ? null : awaiting.apply(id);
      if (w == null) {
        reject("unknown_worker", "no worker '" + id + "' is starting on this node");
        return;
      }
      worker = w;
      w.onConnected(socket, hello);
    }

    void reject(String code, String message) {
      rejected = true;
      LOG.warn("Refused a worker connection: {} ({})", message, code);
      socket.write(FrameCodec.encode(Frame.of(FrameType.REJECT, 0,
          new JsonObject().put("code", code).put("message", message)))).onComplete(v -> socket.close());
    }

    void protocolError(String message) {
      if (worker != null) {
        LOG.error("Worker {} broke the protocol: {}; replacing it", worker.id(), message);
        worker.brokeProtocol(message);
      } else {
        LOG.warn("Closing a connection that broke the protocol before its handshake: {}", message);
      }
      rejected = true;
      socket.close();
    }

    void closed() {
      vertx.cancelTimer(handshakeTimer);
      if (worker != null) {
        worker.onDisconnected();
      }
    }
  }
}
