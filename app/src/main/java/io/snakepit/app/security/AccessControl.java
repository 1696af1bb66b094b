package io.snakepit.app.security;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.User;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Who may do what on this node: authenticates a request's bearer token (an API key of the keys file, or a JWT),
 * and checks the principal's role, its pool and tool scope, and, for a {@link Role#CALLER}, that a session is one
 * it created. Shared by the HTTP and gRPC APIs, so both answer the same question the same way
 * (docs/security.md has the role matrix).
 */
public final class AccessControl {

  /**
   * The session metadata key that names the principal who created a session. The node sets it on every create
   * when authentication is on; a client's own value is replaced. It is ordinary metadata otherwise, so it shows
   * in the session's record and survives export and import.
   */
  public static final String CREATOR_KEY = io.snakepit.contract.Reserved.CREATED_BY;

  private final SecuritySettings settings;
  private final AuditLog audit;
  private final RateLimiter limiter;
  private final List<WatchedFile> watched = new ArrayList<>();
  private volatile Map<String, KeysFile.Entry> keys = Map.of();
  private volatile JWTAuth jwt;
  private boolean keysLoaded;

  private AccessControl(SecuritySettings settings, AuditLog audit) {
    this.settings = settings;
    this.audit = audit;
    this.limiter = new RateLimiter(settings == null ? RateLimitSettings.NONE : settings.rateLimits());
  }

  /** No authentication, no limits, no audit log: for APIs embedded by an application that guards them itself. */
  public static AccessControl open() {
    return new AccessControl(null, AuditLog.OFF);
  }

  /**
   * Loads the keys file and the JWT keys (a file that cannot be read or parsed fails the future, so the node
   * does not start half-guarded) and watches them for changes.
   */
  public static Future<AccessControl> start(Vertx vertx, SecuritySettings settings, AuditLog audit) {
    AccessControl ac = new AccessControl(settings, audit);
    Future<Void> loaded = Future.succeededFuture();
    if (settings.apiKeysFile() != null) {
      WatchedFile keysFile = new WatchedFile(vertx, settings.apiKeysFile(), "API keys", b -> ac.keysChanged(b));
      ac.watched.add(keysFile);
      loaded = loaded.compose(v -> keysFile.start(settings.reloadIntervalMs())
          .recover(t -> unusable("security.api-keys-file", settings.apiKeysFile(), t)));
    }
    SecuritySettings.JwtSettings j = settings.jwt();
    if (j != null) {
      WatchedFile jwtKeys = new WatchedFile(vertx, j.publicKeyFile() != null ? j.publicKeyFile() : j.jwksFile(),
          "JWT keys", b -> ac.jwt = jwtAuth(vertx, j, b));
      ac.watched.add(jwtKeys);
      loaded = loaded.compose(v -> jwtKeys.start(settings.reloadIntervalMs()).recover(t -> unusable(
          j.publicKeyFile() != null ? "security.jwt.public-key-file" : "security.jwt.jwks-file",
          j.publicKeyFile() != null ? j.publicKeyFile() : j.jwksFile(), t)));
    }
    long forget = vertx.setPeriodic(60_000, t -> ac.limiter.forgetIdle());
    return loaded.map(ac).onFailure(t -> {
      vertx.cancelTimer(forget);
      ac.watched.forEach(WatchedFile::stop);
    });
  }

  /** A start refused for a file that cannot be used: a configuration error, naming the setting. */
  private static Future<Void> unusable(String setting, java.nio.file.Path file, Throwable t) {
    String why = t instanceof io.vertx.core.file.FileSystemException && t.getCause() != null
        ? t.getCause().toString() : t.getMessage();
    return Future.failedFuture(new io.snakepit.config.ConfigException(setting + " " + file + " cannot be used: "
        + why));
  }

  /** Stops watching the files. */
  public void stop() {
    watched.forEach(WatchedFile::stop);
  }

  /** Whether requests must carry a token. */
  public boolean enabled() {
    return settings != null && settings.authenticationEnabled();
  }

  /** Whether {@code /metrics} answers without a token. */
  public boolean publicMetrics() {
    return settings == null || settings.publicMetrics();
  }

  public AuditLog audit() {
    return audit;
  }

  public RateLimiter limiter() {
    return limiter;
  }

  /**
   * Who sends {@code authorization} (the {@code Authorization} header, or gRPC's {@code authorization}
   * metadata): {@link Principal#ANONYMOUS} when authentication is off; else the key's or the token's principal,
   * or a failure with {@code unauthenticated}.
   */
  public Future<Principal> authenticate(String authorization) {
    if (!enabled()) {
      return Future.succeededFuture(Principal.ANONYMOUS);
    }
    String token = bearer(authorization);
    if (token == null) {
      return Future.failedFuture(unauthenticated(authorization == null
          ? "This node requires authentication: send 'Authorization: Bearer <token>'."
          : "The Authorization header must be 'Bearer <token>'."));
    }
    if (token.startsWith(KeysFile.PREFIX)) {
      String hash = KeysFile.hash(token);
      KeysFile.Entry e = keys.get(hash);
      // The map is keyed by the hash; comparing again in constant time costs nothing and guards the lookup.
      if (e != null && MessageDigest.isEqual(e.sha256().getBytes(StandardCharsets.US_ASCII),
          hash.getBytes(StandardCharsets.US_ASCII))) {
        return Future.succeededFuture(e.principal());
      }
      return Future.failedFuture(unauthenticated("The key is not one of this node's keys (it may have been "
          + "removed from the keys file)."));
    }
    JWTAuth verifier = jwt;
    if (verifier == null) {
      return Future.failedFuture(unauthenticated("The token is not an API key (sp_...), and this node accepts no "
          + "JWTs."));
    }
    return verifier.authenticate(new TokenCredentials(token))
        .recover(t -> Future.failedFuture(unauthenticated("The JWT was refused: " + jwtReason(t) + ".")))
        .compose(this::fromJwt);
  }

  private Future<Principal> fromJwt(User user) {
    JsonObject claims = user.attributes().getJsonObject("accessToken", user.principal());
    String sub = claims.getValue("sub") instanceof String s && !s.isBlank() ? s : null;
    if (sub == null) {
      return Future.failedFuture(unauthenticated("The JWT has no 'sub' claim to name its holder."));
    }
    if (!(claims.getValue("exp") instanceof Number)) {
      return Future.failedFuture(unauthenticated("The JWT has no 'exp' claim; this node takes only tokens that "
          + "expire."));
    }
    String claim = settings.jwt().roleClaim();
    Role role = claims.getValue(claim) instanceof String s ? Role.parse(s) : null;
    if (role == null) {
      return Future.failedFuture(new SnakepitException(ErrorCode.FORBIDDEN, "The JWT's '" + claim
          + "' claim must name a role: caller, reader, operator or admin.", null,
          new JsonObject().put("required", "a role in the '" + claim + "' claim")));
    }
    return Future.succeededFuture(new Principal(sub, role, names(claims.getValue("pools")),
        names(claims.getValue("tools")), null, "jwt"));
  }

  private static Set<String> names(Object v) {
    Set<String> out = new LinkedHashSet<>();
    if (v instanceof JsonArray a) {
      a.forEach(x -> out.add(String.valueOf(x)));
    }
    return out;
  }

  /**
   * Records a refusal in the audit log when it is one of authentication ({@code auth.failed}) or of a role or
   * scope ({@code auth.forbidden}); other refusals (rate limits) are not audited. Shared by both APIs.
   *
   * @param principal who was refused, or null when nobody authenticated
   * @param remote    the client's address, or null
   */
  public void auditRefusal(SnakepitException e, Principal principal, String correlationId, String target,
      String remote) {
    String event = switch (e.errorCode()) {
      case UNAUTHENTICATED -> "auth.failed";
      case FORBIDDEN -> "auth.forbidden";
      default -> null;
    };
    if (event != null) {
      audit.record(event, principal, correlationId, target, e.errorCode().code(),
          new JsonObject().put("remote", remote).put("reason", e.getMessage()));
    }
  }

  /** Refuses with {@code forbidden} unless {@code principal}'s role permits {@code access}. */
  public void authorize(Principal principal, Access access) {
    if (!principal.role().permits(access)) {
      throw forbidden(principal, Role.leastFor(access).wireName(), "This operation needs the role "
          + Role.leastFor(access).wireName() + " or above; the key '" + principal.name() + "' is "
          + principal.role().wireName() + ".");
    }
  }

  /** Refuses with {@code forbidden} a call to a pool or a tool outside the principal's scope. */
  public void authorizeCall(Principal principal, String pool, String tool) {
    String p = pool == null ? "default" : pool;
    if (!principal.pools().isEmpty() && !principal.pools().contains(p)) {
      throw forbidden(principal, "pools " + new TreeSet<>(principal.pools()), "The key '" + principal.name()
          + "' may call only the pools " + new TreeSet<>(principal.pools()) + ", not '" + p + "'.");
    }
    if (!principal.tools().isEmpty() && !principal.tools().contains(tool)) {
      throw forbidden(principal, "tools " + new TreeSet<>(principal.tools()), "The key '" + principal.name()
          + "' may call only the tools " + new TreeSet<>(principal.tools()) + ", not '" + tool + "'.");
    }
  }

  /**
   * Checks {@code access} to one session: a role's own permission, and for a caller that the session is one it
   * created (one read of the session; the others need none).
   */
  public Future<Void> authorizeSession(Principal principal, Access access, String sessionId,
      SessionStoreClient store) {
    try {
      authorize(principal, access);
    } catch (SnakepitException e) {
      return Future.failedFuture(e);
    }
    if (principal.role() != Role.CALLER || sessionId == null) {
      return Future.succeededFuture();
    }
    return store.get(sessionId).compose(s -> {
      try {
        authorizeCreated(principal, s);
        return Future.succeededFuture();
      } catch (SnakepitException e) {
        return Future.failedFuture(e);
      }
    });
  }

  /** Refuses a caller a session (its public JSON) that it did not create. */
  public void authorizeCreated(Principal principal, JsonObject session) {
    if (principal.role() != Role.CALLER) {
      return;
    }
    JsonObject meta = session.getJsonObject("metadata");
    Object creator = meta == null ? null : meta.getValue(CREATOR_KEY);
    if (!principal.name().equals(creator)) {
      throw forbidden(principal, "operator", "A caller reaches only the sessions it created; session '"
          + session.getString("id") + "' was not created by '" + principal.name() + "'.");
    }
  }

  /** A create's spec with the creator recorded, when authentication is on. */
  public JsonObject stampCreator(Principal principal, JsonObject spec) {
    if (principal.anonymous()) {
      return spec;
    }
    JsonObject meta = spec.getValue("metadata") instanceof JsonObject m ? m.copy() : new JsonObject();
    if (spec.containsKey("metadata") && !(spec.getValue("metadata") instanceof JsonObject)) {
      return spec; // the store answers the malformed metadata
    }
    return spec.copy().put("metadata", meta.put(CREATOR_KEY, principal.name()));
  }

  private void keysChanged(Buffer b) {
    Map<String, KeysFile.Entry> next = KeysFile.parse(b.toString(StandardCharsets.UTF_8),
        String.valueOf(settings.apiKeysFile()));
    Map<String, KeysFile.Entry> before = keys;
    keys = Map.copyOf(next);
    JsonObject change = diff(before, next);
    if (!keysLoaded) {
      keysLoaded = true;
      audit.record("keys.loaded", null, null, String.valueOf(settings.apiKeysFile()), "ok",
          new JsonObject().put("keys", next.size()));
    } else if (!change.isEmpty()) {
      audit.record("keys.changed", null, null, String.valueOf(settings.apiKeysFile()), "ok", change);
    }
  }

  /** The names added, removed or changed (role or scope) between two versions of the keys file. */
  static JsonObject diff(Map<String, KeysFile.Entry> before, Map<String, KeysFile.Entry> after) {
    Map<String, KeysFile.Entry> was = new java.util.HashMap<>();
    before.values().forEach(e -> was.put(e.name(), e));
    Map<String, KeysFile.Entry> is = new java.util.HashMap<>();
    after.values().forEach(e -> is.put(e.name(), e));
    Set<String> added = new TreeSet<>();
    Set<String> changed = new TreeSet<>();
    is.forEach((name, e) -> {
      KeysFile.Entry old = was.get(name);
      if (old == null) {
        added.add(name);
      } else if (!old.sha256().equals(e.sha256()) || !Objects.equals(old.principal(), e.principal())) {
        changed.add(name);
      }
    });
    Set<String> removed = new TreeSet<>(was.keySet());
    removed.removeAll(is.keySet());
    JsonObject out = new JsonObject();
    if (!added.isEmpty()) {
      out.put("added", new JsonArray(List.copyOf(added)));
    }
    if (!removed.isEmpty()) {
      out.put("removed", new JsonArray(List.copyOf(removed)));
    }
    if (!changed.isEmpty()) {
      out.put("changed", new JsonArray(List.copyOf(changed)));
    }
    return out;
  }

  private static JWTAuth jwtAuth(Vertx vertx, SecuritySettings.JwtSettings j, Buffer keyFile) {
    JWTOptions checks = new JWTOptions().setLeeway(j.leewayS());
    if (j.issuer() != null) {
      checks.setIssuer(j.issuer());
    }
    if (j.audience() != null) {
      checks.setAudience(List.of(j.audience()));
    }
    JWTAuthOptions options = new JWTAuthOptions().setJWTOptions(checks);
    String text = keyFile.toString(StandardCharsets.UTF_8);
    if (j.publicKeyFile() != null) {
      if (!text.contains("-----BEGIN PUBLIC KEY-----")) {
        throw new IllegalArgumentException("the JWT key file must hold a PEM public key (-----BEGIN PUBLIC KEY-----)");
      }
      options.addPubSecKey(new PubSecKeyOptions().setAlgorithm(j.algorithm()).setBuffer(text));
    } else {
      JsonObject jwks = new JsonObject(text);
      List<JsonObject> list = new ArrayList<>();
      jwks.getJsonArray("keys", new JsonArray()).forEach(k -> list.add((JsonObject) k));
      if (list.isEmpty()) {
        throw new IllegalArgumentException("the JWKS file holds no keys ({\"keys\": [...]})");
      }
      options.setJwks(list);
    }
    return JWTAuth.create(vertx, options);
  }

  /**
   * Why a JWT was refused, in words of our own: the verifier's messages can quote parts of the token, and no part
   * of a token may reach an answer or a log.
   */
  static String jwtReason(Throwable t) {
    String m = String.valueOf(t.getMessage()).toLowerCase(java.util.Locale.ROOT);
    if (m.contains("expired")) {
      return "it has expired";
    }
    if (m.contains("issuer")) {
      return "its issuer ('iss') is not the one configured (security.jwt.issuer)";
    }
    if (m.contains("audience")) {
      return "its audience ('aud') is not the one configured (security.jwt.audience)";
    }
    if (m.contains("not yet valid") || m.contains("nbf") || m.contains("iat")) {
      return "it is not valid yet ('nbf' or 'iat' is in the future)";
    }
    if (m.contains("signature")) {
      return "its signature does not verify with this node's keys";
    }
    return "it is not a well-formed JWT signed by one of this node's keys";
  }

  private static String bearer(String authorization) {
    if (authorization == null) {
      return null;
    }
    String a = authorization.trim();
    if (a.length() < 8 || !a.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = a.substring(7).trim();
    return token.isEmpty() || token.contains(" ") ? null : token;
  }

  private static SnakepitException unauthenticated(String message) {
    return new SnakepitException(ErrorCode.UNAUTHENTICATED, message);
  }

  private static SnakepitException forbidden(Principal p, String required, String message) {
    return new SnakepitException(ErrorCode.FORBIDDEN, message, null,
        new JsonObject().put("required", required).put("role", p.role().wireName()));
  }
}
