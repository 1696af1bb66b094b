package io.snakepit.app.grpc;

import io.snakepit.app.security.Access;
import io.snakepit.app.security.AccessControl;
import io.snakepit.app.security.Principal;
import io.snakepit.app.security.RateKind;
import io.snakepit.app.security.RateLimiter;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.Future;
import io.vertx.grpc.server.GrpcServerRequest;

/**
 * Authentication, roles and rate limits on the gRPC API: the same {@link AccessControl} as HTTP, read from the
 * call's {@code authorization} metadata. A refusal ends the call {@code UNAUTHENTICATED},
 * {@code PERMISSION_DENIED} or {@code RESOURCE_EXHAUSTED} with the typed error in the trailers.
 */
final class GrpcGuard {

  /** What a method needs: its access, its rate, and whether its requests name a session. */
  record Rule(String method, Access access, RateKind rate, String auditEvent) {
  }

  private final AccessControl access;
  private final SessionStoreClient sessions;

  GrpcGuard(AccessControl access, SessionStoreClient sessions) {
    this.access = access;
    this.sessions = sessions;
  }

  /** A call that was let in: who it is, and what it holds until it ends. */
  record Admission(Principal principal, RateLimiter.Permit permit) {
  }

  /**
   * Admits a call by {@code rule}, in the session {@code sessionId} (or null), running {@code pool}'s {@code tool}
   * (both null for a method that runs none).
   */
  Future<Admission> admit(GrpcServerRequest<?, ?> call, String cid, Rule rule, String sessionId, String pool,
      String tool) {
    String target = sessionId != null ? "session " + sessionId : rule.method();
    return access.authenticate(call.headers().get("authorization")).recover(t -> refused(call, cid, null, target,
        SnakepitException.from(t))).compose(p -> {
          RateLimiter.Permit permit;
          try {
            access.authorize(p, rule.access());
            if (tool != null) {
              access.authorizeCall(p, pool, tool);
            }
            var address = call.connection().remoteAddress();
            permit = access.limiter().admit(rule.rate(), p, address == null ? null : address.hostAddress());
          } catch (SnakepitException e) {
            return refused(call, cid, p, target, e);
          }
          Access sessionAccess = rule.access() == Access.CALL ? Access.SESSION_WRITE : rule.access();
          Future<Void> inSession = sessionId == null ? Future.succeededFuture()
              : access.authorizeSession(p, sessionAccess, sessionId, sessions.withCorrelationId(cid));
          return inSession.<Admission>map(v -> new Admission(p, permit)).recover(t -> {
            permit.release();
            SnakepitException e = SnakepitException.from(t);
            return e.errorCode() == ErrorCode.FORBIDDEN ? refused(call, cid, p, target, e) : Future.failedFuture(e);
          });
        });
  }

  /** Records an audited method's outcome. */
  void audit(Rule rule, Admission a, String cid, String target, String outcome) {
    if (rule.auditEvent() != null) {
      access.audit().record(rule.auditEvent(), a.principal(), cid, target, outcome, null);
    }
  }

  private <T> Future<T> refused(GrpcServerRequest<?, ?> call, String cid, Principal p, String target,
      SnakepitException e) {
    var address = call.connection().remoteAddress();
    access.auditRefusal(e, p, cid, "grpc " + target, address == null ? null : address.hostAddress());
    return Future.failedFuture(e);
  }
}
