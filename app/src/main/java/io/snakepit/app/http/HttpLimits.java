package io.snakepit.app.http;

import io.snakepit.config.ConfigReader;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;

/**
 * The {@code http} section of the node's configuration: how much a client may send before its request is
 * refused, and how long and how many connections it may hold without using them. Applies to the HTTP API and
 * to the gRPC API alike. See docs/configuration.md and docs/security.md ("Hardened HTTP server").
 *
 * @param maxRequestLineBytes the longest request line (method, URI, version); longer gets a typed 414
 * @param maxHeaderBytes      the most header bytes of one request; more gets a typed 431 (gRPC: HTTP/2's
 *                            header-list limit, past which the stream is refused)
 * @param headerTimeoutMs     a new connection that has not sent a complete request head by then is closed
 * @param idleTimeoutS        a connection with no request in flight for this long is closed (at most twice
 *                            this, see {@link ConnectionGuard})
 * @param maxConnections      open connections per server; past them, a new connection is closed at once
 */
public record HttpLimits(int maxRequestLineBytes, int maxHeaderBytes, long headerTimeoutMs, long idleTimeoutS,
                         int maxConnections) {

  /** The limits when the configuration has no {@code http} section. */
  public static final HttpLimits DEFAULTS = fromJson(new JsonObject());

  /** Reads and validates the section; {@code json} may be empty. Unknown keys are refused. */
  public static HttpLimits fromJson(JsonObject json) {
    ConfigReader r = new ConfigReader(json, "http");
    int line = r.intValue("max-request-line-bytes", 4096, 256, 1024 * 1024);
    int headers = r.intValue("max-header-bytes", 8192, 1024, 1024 * 1024);
    long headerTimeout = r.longValue("header-timeout-ms", 10_000, 50, 600_000);
    long idle = r.longValue("idle-timeout-s", 60, 1, 86_400);
    int connections = r.intValue("max-connections", 1024, 1, 1_000_000);
    r.rejectUnknownKeys();
    return new HttpLimits(line, headers, headerTimeout, idle, connections);
  }

  /** Applies the parsing limits to a server's options (the timeouts and the cap are {@link ConnectionGuard}'s). */
  public HttpServerOptions applyTo(HttpServerOptions options) {
    Http2Settings settings = options.getInitialSettings() == null ? new Http2Settings()
        : new Http2Settings(options.getInitialSettings());
    return options.setMaxInitialLineLength(maxRequestLineBytes).setMaxHeaderSize(maxHeaderBytes)
        .setInitialSettings(settings.setMaxHeaderListSize(maxHeaderBytes));
  }
}
