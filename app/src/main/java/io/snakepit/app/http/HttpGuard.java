package io.snakepit.app.http;

import io.snakepit.app.security.Access;
import io.snakepit.app.security.AccessControl;
import io.snakepit.app.security.Principal;
import io.snakepit.app.security.RateLimiter;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * Authentication, roles and rate limits on the HTTP API, in two steps: {@link #admit} before the body is read
 * (who is it, may its role do this at all, is it within its rates) and {@link #ownSession} once it is (a caller
 * works only in the sessions it created). Records the audited operations and every refusal in the audit log.
 */
final class HttpGuard {

  static final String PRINCIPAL = "snakepit.principal";
  private static final String RULE = "snakepit.rule";

  private final AccessControl access;
  private final HttpAccessRules rules;
  private final SessionStoreClient sessions;

  HttpGuard(AccessControl access, HttpAccessRules rules, SessionStoreClient sessions) {
    this.access = access;
    this.rules = rules;
    this.sessions = sessions;
  }

  /** The principal a request was admitted as. */
  static Principal principal(RoutingContext ctx) {
    Principal p = ctx.get(PRINCIPAL);
    return p == null ? Principal.ANONYMOUS : p;
  }

  /** Root handler: authenticates, checks the role and the rates, and arms the audit record. */
  void admit(RoutingContext ctx) {
    HttpAccessRules.Rule rule = rules.match(ctx.request().method(), ctx.request().path());
    if (rule != null && rule.access() == Access.OPEN) {
      ctx.next();
      return;
    }
    String target = ctx.request().method() + " " + ctx.request().path();
    var authenticated = access.authenticate(ctx.request().getHeader("Authorization"));
    if (!authenticated.isComplete()) {
      // Keys and JWTs are checked at once today; a check that waits must hold the body back until the handler
      // that reads it is in place (the body handler, or the import's parser, resumes the request).
      ctx.request().pause();
    }
    authenticated.onComplete(ar -> {
      if (ar.failed()) {
        refuse(ctx, null, target, SnakepitException.from(ar.cause()));
        return;
      }
      Principal p = ar.result();
      ctx.put(PRINCIPAL, p);
      if (rule == null) {
        ctx.next(); // no such operation: 404 for an authenticated client
        return;
      }
      ctx.put(RULE, rule);
      try {
        access.authorize(p, rule.access());
        admitRate(ctx, p, rule);
      } catch (SnakepitException e) {
        refuse(ctx, p, target, e);
        return;
      }
      if (rule.auditEvent() != null) {
        ctx.addEndHandler(done -> access.audit().record(rule.auditEvent(), p, ctx.get(HttpApiVerticle.CID),
            auditTarget(ctx, rule), outcome(ctx), remote(ctx)));
      }
      ctx.next();
    });
  }

  private void admitRate(RoutingContext ctx, Principal p, HttpAccessRules.Rule rule) {
    var address = ctx.request().remoteAddress();
    RateLimiter.Permit permit = access.limiter().admit(rule.rate(), p, address == null ? null : address.hostAddress());
    if (permit != RateLimiter.NOTHING_HELD) {
      ctx.addEndHandler(done -> permit.release());
    }
  }

  /** Root handler, once the body is read: a caller's session must be one it created. */
  void ownSession(RoutingContext ctx) {
    HttpAccessRules.Rule rule = ctx.get(RULE);
    if (rule == null || rule.sessionParam() == null) {
      ctx.next();
      return;
    }
    String id = ctx.pathParam(rule.sessionParam()) != null ? ctx.pathParam(rule.sessionParam())
        : sessionIdOf(ctx.request().path());
    authorizeSession(ctx, rule.access(), id, ctx::next);
  }

  /** Checks a session named in a body ({@code session_id} of an execute), then runs {@code then}. */
  void authorizeSession(RoutingContext ctx, Access a, String sessionId, Runnable then) {
    Principal p = principal(ctx);
    access.authorizeSession(p, a, sessionId, sessions.withCorrelationId(ctx.get(HttpApiVerticle.CID)))
        .onComplete(ar -> {
          if (ar.succeeded()) {
            then.run();
          } else {
            SnakepitException e = SnakepitException.from(ar.cause());
            if (e.errorCode() == ErrorCode.FORBIDDEN) {
              refuse(ctx, p, "session " + sessionId, e);
            } else {
              HttpApiVerticle.fail(ctx, e);
            }
          }
        });
  }

  /** Checks the pool and tool of a call against the key's scope; false after answering 403. */
  boolean authorizeCall(RoutingContext ctx, String pool, String tool) {
    Principal p = principal(ctx);
    try {
      access.authorizeCall(p, pool, tool);
      return true;
    } catch (SnakepitException e) {
      refuse(ctx, p, "tool " + tool, e);
      return false;
    }
  }

  /** The principal a session create records, with the body it sends to the store. */
  JsonObject stampCreator(RoutingContext ctx, JsonObject spec) {
    return access.stampCreator(principal(ctx), spec);
  }

  /** Refuses a caller a session an idempotent create found already there, made by somebody else. */
  boolean mayHave(RoutingContext ctx, JsonObject session) {
    try {
      access.authorizeCreated(principal(ctx), session);
      return true;
    } catch (SnakepitException e) {
      refuse(ctx, principal(ctx), "session " + session.getString("id"), e);
      return false;
    }
  }

  private void refuse(RoutingContext ctx, Principal p, String target, SnakepitException e) {
    access.auditRefusal(e, p, ctx.get(HttpApiVerticle.CID), target, remote(ctx).getString("remote"));
    if (e.errorCode() == ErrorCode.UNAUTHENTICATED) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"snakepit\"");
    }
    if (e.errorCode() == ErrorCode.RATE_LIMITED) {
      ctx.response().putHeader("Retry-After", String.valueOf(e.details().getLong("retry_after_s", 1L)));
    }
    HttpApiVerticle.fail(ctx, e);
  }

  private static JsonObject remote(RoutingContext ctx) {
    var a = ctx.request().remoteAddress();
    return new JsonObject().put("remote", a == null ? null : a.hostAddress());
  }

  private static String auditTarget(RoutingContext ctx, HttpAccessRules.Rule rule) {
    return switch (rule.operationId()) {
      case "deleteSession" -> ctx.pathParam("id") != null ? ctx.pathParam("id") : sessionIdOf(ctx.request().path());
      case "reloadPool" -> ctx.pathParam("name");
      default -> ctx.request().path();
    };
  }

  /** {@code ok}, or the error code the answer carried (its status when it carried none). */
  private static String outcome(RoutingContext ctx) {
    String code = ctx.get(HttpApiVerticle.ERROR_CODE);
    int status = ctx.response().getStatusCode();
    return code != null ? code : status < 400 ? "ok" : "http_" + status;
  }

  /** The {@code {id}} of /v1/sessions/{id}/..., for handlers that run before the router has path parameters. */
  private static String sessionIdOf(String path) {
    String[] parts = path.split("/");
    return parts.length > 3 ? java.net.URLDecoder.decode(parts[3], java.nio.charset.StandardCharsets.UTF_8) : null;
  }
}
