package io.snakepit.app.tls;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * The {@code tls} section of the node's configuration: one certificate for both
 * the HTTP and the gRPC API (see docs/configuration.md and docs/security.md).
 * Without {@code cert} the APIs speak plain HTTP, as before.
 *
 * @param cert             {@code tls.cert}: PEM certificate chain the APIs present; null = no TLS
 * @param key              {@code tls.key}: PEM private key of {@code cert} (PKCS#8 or PKCS#1)
 * @param clientCa         {@code tls.client-ca}: PEM CA certificates; when set, every client must present a
 *                         certificate signed by one of them (mutual TLS); null = no client certificate asked
 * @param reloadIntervalMs {@code tls.reload-interval-ms}: how often the files are checked for a new certificate
 */
public record TlsSettings(Path cert, Path key, Path clientCa, long reloadIntervalMs) {

  /**
   * Reads and validates the section; {@code json} may be empty. The files themselves are
   * checked too (readable, PEM, key matching the certificate), so a bad file stops the
   * node before it starts, naming the setting. Blocks: reads files.
   */
  public static TlsSettings fromJson(JsonObject json) {
    TlsSettings s = parse(json);
    if (s.enabled()) {
      s.read();
    }
    return s;
  }

  /** Reads the section without opening the files: for the API verticles, which read them off the event loop. */
  public static TlsSettings parse(JsonObject json) {
    ConfigReader r = new ConfigReader(json, "tls");
    String cert = r.string("cert", null);
    String key = r.string("key", null);
    String clientCa = r.string("client-ca", null);
    long interval = r.longValue("reload-interval-ms", 5000, 100, 3_600_000);
    r.rejectUnknownKeys();
    if ((cert == null) != (key == null)) {
      throw new ConfigException(cert == null
          ? "tls.key is set but tls.cert is not: set both (--tls-cert and --tls-key) or neither"
          : "tls.cert is set but tls.key is not: set both (--tls-cert and --tls-key) or neither");
    }
    if (clientCa != null && cert == null) {
      throw new ConfigException("tls.client-ca asks clients for certificates, which needs TLS: "
          + "set tls.cert and tls.key (--tls-cert, --tls-key) too");
    }
    return new TlsSettings(path(cert), path(key), path(clientCa), interval);
  }

  private static Path path(String s) {
    return s == null || s.isBlank() ? null : Path.of(s);
  }

  /** Whether the APIs speak TLS. */
  public boolean enabled() {
    return cert != null;
  }

  /** Whether clients must present a certificate signed by {@link #clientCa}. */
  public boolean mutual() {
    return clientCa != null;
  }

  /** Reads the files now (blocking); a problem is a {@link ConfigException} naming the setting. */
  public PemCredentials read() {
    return PemCredentials.read(cert, "tls.cert", key, "tls.key", clientCa, "tls.client-ca");
  }

  /** The section as it is handed to the API verticles in their deployment configuration. */
  public JsonObject toJson() {
    JsonObject o = new JsonObject().put("reload-interval-ms", reloadIntervalMs);
    if (cert != null) {
      o.put("cert", cert.toString()).put("key", key.toString());
    }
    if (clientCa != null) {
      o.put("client-ca", clientCa.toString());
    }
    return o;
  }
}
