package io.snakepit.app.security;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * The {@code security} section of the node's configuration (docs/security.md, docs/configuration.md).
 *
 * @param insecure          run with no authentication on a non-loopback address, on purpose
 * @param apiKeysFile       the keys file ({@code snakepit keys add}), or null
 * @param jwt               how JWTs are verified, or null when they are not accepted
 * @param publicMetrics     whether {@code /metrics} answers without a token
 * @param reloadIntervalMs  how often the keys file and the JWT keys are checked for changes
 * @param auditLog          the audit log's file, or null when it is off
 * @param rateLimits        the limits each key (or client address) has on this node
 */
public record SecuritySettings(boolean insecure, Path apiKeysFile, JwtSettings jwt, boolean publicMetrics,
                               long reloadIntervalMs, Path auditLog, RateLimitSettings rateLimits) {

  /**
   * How JWTs are verified.
   *
   * @param publicKeyFile a PEM file of the public key that signs them, or null
   * @param jwksFile      a JWKS file ({@code {"keys": [...]}}), or null
   * @param algorithm     the algorithm of the PEM key (RS256, ES256, ...)
   * @param issuer        the {@code iss} every token must carry, or null
   * @param audience      the {@code aud} every token must carry, or null
   * @param roleClaim     the claim that holds the role
   * @param leewayS       clock skew allowed on {@code exp}, {@code nbf} and {@code iat}
   */
  public record JwtSettings(Path publicKeyFile, Path jwksFile, String algorithm, String issuer, String audience,
                            String roleClaim, int leewayS) {
  }

  /** Reads and validates the section; {@code dataDir} places the audit log by default. Unknown keys are refused. */
  public static SecuritySettings fromJson(JsonObject json, Path dataDir) {
    ConfigReader r = new ConfigReader(json, "security");
    boolean insecure = r.bool("insecure", false);
    Path keys = path(r.string("api-keys-file", ""));
    JsonObject jwtJson = r.object("jwt");
    boolean publicMetrics = r.bool("public-metrics", false);
    long reload = r.longValue("reload-interval-ms", 2000, 100, 3_600_000);
    String audit = r.string("audit-log", "");
    JsonObject limits = r.object("rate-limits");
    r.rejectUnknownKeys();
    JwtSettings jwt = jwtJson.isEmpty() ? null : jwt(jwtJson);
    Path auditLog = "off".equals(audit) ? null : audit.isBlank() ? dataDir.resolve("audit.log") : Path.of(audit);
    return new SecuritySettings(insecure, keys, jwt, publicMetrics, reload, auditLog,
        RateLimitSettings.fromJson(limits, "security.rate-limits"));
  }

  private static JwtSettings jwt(JsonObject json) {
    ConfigReader r = new ConfigReader(json, "security.jwt");
    Path pem = path(r.string("public-key-file", ""));
    Path jwks = path(r.string("jwks-file", ""));
    String algorithm = r.oneOf("algorithm", "RS256", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
        "PS256", "PS384", "PS512", "EdDSA");
    String issuer = blankToNull(r.string("issuer", ""));
    String audience = blankToNull(r.string("audience", ""));
    String roleClaim = r.string("role-claim", "role");
    int leeway = r.intValue("leeway-s", 5, 0, 3600);
    r.rejectUnknownKeys();
    if ((pem == null) == (jwks == null)) {
      throw new ConfigException("security.jwt needs exactly one of public-key-file (a PEM public key) and "
          + "jwks-file (a JWKS document)");
    }
    return new JwtSettings(pem, jwks, algorithm, issuer, audience, roleClaim, leeway);
  }

  /** Whether requests must authenticate: a keys file or JWTs are configured. */
  public boolean authenticationEnabled() {
    return apiKeysFile != null || jwt != null;
  }

  /**
   * Refuses a node that listens beyond loopback with no authentication, unless {@code insecure} says it is meant.
   *
   * @param host the address the HTTP and gRPC APIs bind
   */
  public void checkSafeToListen(String host) {
    if (!authenticationEnabled() && !insecure && !isLoopback(host)) {
      throw new ConfigException("host " + host + " is not a loopback address and no authentication is configured: "
          + "anyone who reaches the node could run any tool and read every session. Set security.api-keys-file "
          + "(create keys with `snakepit keys add`) or security.jwt, or set security.insecure: true to run open "
          + "on purpose (docs/security.md)");
    }
  }

  /** Loopback by its literal form: a host name other than localhost counts as beyond loopback. */
  static boolean isLoopback(String host) {
    String h = host.trim();
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    return h.equalsIgnoreCase("localhost") || h.equals("::1") || h.equals("0:0:0:0:0:0:0:1")
        || h.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }

  private static Path path(String s) {
    return s == null || s.isBlank() ? null : Path.of(s);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
