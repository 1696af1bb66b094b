package io.snakepit.app.tls;

import io.snakepit.config.ConfigException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.ServerSSLOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TLS for one of the node's servers (HTTP API, gRPC API): sets up the server's
 * options from {@link TlsSettings} and, once it listens, checks the files every
 * {@code tls.reload-interval-ms} and hands a changed certificate to the running
 * server ({@link HttpServer#updateSSLOptions}): new connections get it, open ones
 * keep theirs. A new file that does not load is logged and the server keeps the
 * certificate it has.
 */
public final class ServerTls {

  private static final Logger LOG = LoggerFactory.getLogger(ServerTls.class);

  private final Vertx vertx;
  private final TlsSettings settings;
  private final String serverName;
  private volatile PemCredentials current;
  private long timer = -1;
  /** A check of the files or an update of the server is under way (event-loop state). */
  private boolean checking;
  /** The digest of the last files that failed to load: logged once, not parsed again at every poll. */
  private volatile String lastRefused;

  private ServerTls(Vertx vertx, TlsSettings settings, String serverName, PemCredentials current) {
    this.vertx = vertx;
    this.settings = settings;
    this.serverName = serverName;
    this.current = current;
  }

  /**
   * Reads the certificate files off the event loop; completes with null when
   * {@code settings} asks for no TLS. {@code serverName} ("HTTP API") is for the logs.
   */
  public static Future<ServerTls> load(Vertx vertx, TlsSettings settings, String serverName) {
    if (!settings.enabled()) {
      return Future.succeededFuture();
    }
    return vertx.executeBlocking(settings::read, false)
        .map(c -> new ServerTls(vertx, settings, serverName, c));
  }

  /** Turns TLS on in {@code options}: the certificate, and with a client CA, client certificates required. */
  public HttpServerOptions apply(HttpServerOptions options) {
    options.setSsl(true).setKeyCertOptions(current.keyCert());
    if (io.vertx.core.net.OpenSSLEngineOptions.isAvailable()) {
      // BoringSSL (netty-tcnative) where the platform has a build of it: it encrypts at a fraction of the JDK
      // engine's cost per request (docs/benchmarks.md, TLS). Elsewhere, the JDK's engine.
      options.setSslEngineOptions(new io.vertx.core.net.OpenSSLEngineOptions());
    }
    if (current.mutual()) {
      options.setTrustOptions(current.trust()).setClientAuth(ClientAuth.REQUIRED);
    }
    return options;
  }

  /** Starts checking the files for {@code server}, which listens with {@link #apply}'s options. */
  public void watch(HttpServer server, HttpServerOptions options) {
    LOG.info("{} serves TLS ({}) with certificate serial {}{}; checking {} every {} ms for a new one", serverName,
        options.getSslEngineOptions() instanceof io.vertx.core.net.OpenSSLEngineOptions ? "BoringSSL" : "JDK",
        current.serial(), current.mutual() ? ", client certificates required" : "", settings.cert(),
        settings.reloadIntervalMs());
    ServerSSLOptions base = options.getSslOptions().copy();
    timer = vertx.setPeriodic(settings.reloadIntervalMs(), id -> {
      if (checking) {
        return; // the previous check (or the update it started) is not over: one at a time
      }
      checking = true;
      vertx.executeBlocking(this::readIfChanged, false).compose(c -> {
        if (c == null) {
          return Future.succeededFuture();
        }
        ServerSSLOptions next = base.copy().setKeyCertOptions(c.keyCert());
        if (c.mutual()) {
          next.setTrustOptions(c.trust()).setClientAuth(ClientAuth.REQUIRED);
        }
        return server.updateSSLOptions(next, true).onComplete(ar -> {
          if (ar.succeeded()) {
            LOG.info("{} now presents certificate serial {} (was {})", serverName, c.serial(), current.serial());
            current = c;
          } else {
            LOG.error("{} refused the new certificate files ({}); it keeps serial {}", serverName,
                ar.cause().getMessage(), current.serial());
          }
        });
      }).onComplete(ar -> checking = false);
    });
  }

  /** Stops checking the files. */
  public void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }

  /** The files' credentials when they changed and load; null when unchanged or broken (logged once). */
  private PemCredentials readIfChanged() {
    String seen = PemCredentials.digestOf(settings.cert(), settings.key(), settings.clientCa());
    if (seen.equals(current.digest()) || seen.equals(lastRefused)) {
      return null; // the common case, every poll: nothing to parse
    }
    PemCredentials c;
    try {
      c = settings.read();
    } catch (ConfigException e) {
      // Often a half-written file during a renewal: the next poll sees the finished one.
      if (!seen.equals(lastRefused)) {
        lastRefused = seen;
        LOG.error("{}: the certificate files changed but do not load, keeping serial {}: {}", serverName,
            current.serial(), e.getMessage());
      }
      return null;
    }
    lastRefused = null;
    return c.digest().equals(current.digest()) ? null : c;
  }
}
