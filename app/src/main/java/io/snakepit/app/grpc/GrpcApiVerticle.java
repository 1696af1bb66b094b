package io.snakepit.app.grpc;

import io.snakepit.app.ServingState;
import io.snakepit.app.http.ConnectionGuard;
import io.snakepit.app.http.HttpLimits;
import io.snakepit.app.tls.ServerTls;
import io.snakepit.app.tls.TlsSettings;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.snakepit.grpc.v1.CreateSessionRequest;
import io.snakepit.grpc.v1.CreateSessionResponse;
import io.snakepit.grpc.v1.DeleteSessionResponse;
import io.snakepit.grpc.v1.DeleteVariableResponse;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.ExecuteResponse;
import io.snakepit.grpc.v1.GetProgramResponse;
import io.snakepit.grpc.v1.GetVariableResponse;
import io.snakepit.grpc.v1.IncrementVariableResponse;
import io.snakepit.grpc.v1.ListSessionsResponse;
import io.snakepit.grpc.v1.ListVariablesResponse;
import io.snakepit.grpc.v1.PutProgramResponse;
import io.snakepit.grpc.v1.PutVariableResponse;
import io.snakepit.grpc.v1.Session;
import io.snakepit.grpc.v1.SnakepitGrpcService;
import io.snakepit.app.security.Access;
import io.snakepit.app.security.Principal;
import io.snakepit.app.security.RateKind;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.reflection.ReflectionService;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.Service;
import java.util.function.BiFunction;

/**
 * The gRPC API ({@code snakepit.v1.Snakepit}, see docs/grpc-api.md and
 * src/main/proto), with the standard health service and server reflection.
 * Like the HTTP API it talks to the rest of the node only over the event bus.
 * Every call's response headers carry {@code x-correlation-id}: the client's
 * own when it sent a valid one, otherwise a generated one.
 */
public final class GrpcApiVerticle extends VerticleBase {

  /** Metadata key of the correlation id, in requests and in response headers. */
  public static final String CORRELATION_ID = "x-correlation-id";
  /** Largest timeout a call may ask for: one day, as over HTTP. */
  private static final long MAX_TIMEOUT_MS = io.snakepit.contract.ExecuteRequest.MAX_TIMEOUT_MS;

  private final String host;
  private final int port;
  private final ServingState servingState;
  private HttpServer server;
  private ConnectionGuard connections;
  /** The server's certificate and its watch, when it speaks TLS. */
  private ServerTls tls;
  private GrpcHealth health;
  private SessionStoreClient sessionStore;
  private io.snakepit.app.security.AccessControl accessControl = io.snakepit.app.security.AccessControl.open();
  private GrpcGuard guard;

  private static final GrpcGuard.Rule EXECUTE = rule("Execute", Access.CALL, RateKind.CALL, null);
  private static final GrpcGuard.Rule EXECUTE_STREAM = rule("ExecuteStream", Access.CALL, RateKind.CALL, null);
  private static final GrpcGuard.Rule CREATE = rule("CreateSession", Access.CALL, RateKind.WRITE, null);
  private static final GrpcGuard.Rule LIST = rule("ListSessions", Access.READ, RateKind.NONE, null);
  private static final GrpcGuard.Rule READ = rule("session read", Access.SESSION_READ, RateKind.NONE, null);
  private static final GrpcGuard.Rule WRITE = rule("session write", Access.SESSION_WRITE, RateKind.WRITE, null);
  private static final GrpcGuard.Rule DELETE = rule("DeleteSession", Access.SESSION_WRITE, RateKind.WRITE,
      "session.delete");

  private static GrpcGuard.Rule rule(String method, Access access, RateKind rate, String audit) {
    return new GrpcGuard.Rule(method, access, rate, audit);
  }

  /** What a request names: its session, and for an execute its pool and tool. */
  private record Scope(String session, String pool, String tool) {
    static Scope session(String id) {
      return new Scope(id == null || id.isEmpty() ? null : id, null, null);
    }

    static Scope call(ExecuteRequest r) {
      return new Scope(r.getSessionId().isEmpty() ? null : r.getSessionId(),
          r.getPool().isEmpty() ? null : r.getPool(), r.getTool());
    }
  }

  /** An API that serves from the start: for applications that deploy what it calls before it. */
  public GrpcApiVerticle(String host, int port) {
    this(host, port, ServingState.alwaysServing("local"));
  }

  /**
   * An API that serves {@code snakepit.v1.Snakepit} only while {@code servingState} is serving:
   * before and after, every call ends {@code UNAVAILABLE} with the {@code starting} or
   * {@code shutting_down} error, and the health service answers NOT_SERVING.
   */
  public GrpcApiVerticle(String host, int port, ServingState servingState) {
    this.host = host;
    this.port = port;
    this.servingState = java.util.Objects.requireNonNull(servingState);
  }

  /**
   * Puts the API behind {@code access}: tokens, roles, rate limits and the audit log (docs/security.md); call
   * before deploying. Without it the API is open.
   */
  public GrpcApiVerticle guardedBy(io.snakepit.app.security.AccessControl access) {
    this.accessControl = java.util.Objects.requireNonNull(access);
    return this;
  }

  /** The bound port, once started. */
  public int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> start() {
    io.snakepit.contract.ExecuteRequestCodec.register(vertx);
    io.snakepit.contract.LocalCodecs.register(vertx);
    health = new GrpcHealth(vertx, servingState);
    sessionStore = SessionStoreClient.local(vertx);
    guard = new GrpcGuard(accessControl, sessionStore);
    GrpcServer grpc = GrpcServer.server(vertx);
    grpc.addService(snakepit());
    grpc.addService(health.service());
    grpc.addService(ReflectionService.v1());
    HttpLimits limits;
    try {
      limits = HttpLimits.fromJson(config().getJsonObject("http", new JsonObject()));
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    // TLS (the "tls" section): read off the event loop, then watched for renewals. gRPC needs HTTP/2, which a
    // TLS client negotiates through ALPN (the JDK's own since Java 9).
    TlsSettings tlsSettings = TlsSettings.parse(config().getJsonObject("tls", new JsonObject()));
    return ServerTls.load(vertx, tlsSettings, "gRPC API")
        .compose(t -> {
          // The same limits as the HTTP API's; h2c stays on (gRPC over cleartext is HTTP/2 with prior knowledge),
          // so the guard sees a connection from its HTTP/2 preface on (see ConnectionGuard).
          HttpServerOptions options = limits.applyTo(new HttpServerOptions().setHost(host).setPort(port)
              .setTcpNoDelay(true));
          if (t != null) {
            t.apply(options).setUseAlpn(true);
          }
          return listen(grpc, options, limits).onSuccess(s -> {
            if (t != null) {
              tls = t;
              t.watch(server, options);
            }
          });
        });
  }

  private Future<HttpServer> listen(GrpcServer grpc, HttpServerOptions options, HttpLimits limits) {
    server = vertx.createHttpServer(options);
    String registry = config().getString("metrics-registry");
    connections = new ConnectionGuard(vertx, "grpc", limits,
        registry == null ? null : io.vertx.micrometer.backends.BackendRegistries.getNow(registry));
    return server.connectionHandler(connections::connected).requestHandler(connections.requests(request -> {
      // Vert.x's deframer throws, outside any handler, on a message flagged compressed in a call that names no
      // grpc-encoding, and the call then hangs until the client's deadline (found by tests/fuzz.sh). Naming
      // identity makes such a message plain bytes, which then fail to decode with a typed INVALID_ARGUMENT.
      if (request.getHeader("grpc-encoding") == null) {
        request.headers().set("grpc-encoding", "identity");
      }
      grpc.handle(request);
    })).listen();
  }

  @Override
  public Future<?> stop() {
    if (tls != null) {
      tls.stop();
    }
    if (health != null) {
      health.stopping();
    }
    if (connections != null) {
      connections.close();
    }
    return server == null ? Future.succeededFuture() : server.close();
  }

  private Service snakepit() {
    return Service.service(SnakepitGrpcService.SERVICE_NAME, SnakepitGrpcService.SERVICE_DESCRIPTOR)
        .bind(SnakepitGrpcService.Execute, call -> unary(SnakepitGrpcService.Execute, EXECUTE, Scope::call, call,
            (req, cid) ->
            // The call goes to the router as a record, handed over without a copy; only args need converting.
            bus(Addresses.EXECUTE, io.snakepit.contract.ExecuteRequest.fromJson(executeBody(req, call.timeout()), cid),
                cid).map(r -> ExecuteResponse.newBuilder()
                .setResult(JsonValues.toValue(r.getValue("result")))
                .setWorker(r.getString("worker", "")).setNode(r.getString("node", "")).build())))
        .bind(SnakepitGrpcService.ExecuteStream, call -> {
          String cid = correlationId(call);
          GrpcRequestMessages.one(SnakepitGrpcService.ExecuteStream, call, cid, req -> {
            if (refused(call, cid)) {
              return;
            }
            JsonObject body;
            try {
              body = executeBody(req, call.timeout());
            } catch (SnakepitException e) {
              GrpcErrors.fail(call.response(), e.withCorrelationId(cid));
              return;
            }
            Scope scope = Scope.call(req);
            guard.admit(call, cid, EXECUTE_STREAM, scope.session(), scope.pool(), scope.tool())
                .onFailure(t -> GrpcErrors.fail(call.response(), SnakepitException.from(t).withCorrelationId(cid)))
                .onSuccess(a -> new GrpcExecuteStream(vertx, call, options(cid), a.permit()::release).open(body));
          });
        })
        .bind(SnakepitGrpcService.CreateSession, call -> unary(SnakepitGrpcService.CreateSession, CREATE,
            req -> Scope.session(null), call, (req, cid, who) -> {
          JsonObject body = new JsonObject();
          if (!req.getId().isEmpty()) {
            body.put("id", req.getId());
          }
          if (req.hasTtlS()) {
            body.put("ttl_s", req.getTtlS());
          }
          if (req.hasMetadata()) {
            body.put("metadata", JsonValues.toJson(req.getMetadata()));
          }
          return sessions(cid).create(accessControl.stampCreator(who, body)).map(r -> {
            // Create is idempotent: an id that exists answers that session, which a caller may see only if its own.
            if (!r.getBoolean("created", false)) {
              accessControl.authorizeCreated(who, r.getJsonObject("session"));
            }
            return CreateSessionResponse.newBuilder().setSession(session(r.getJsonObject("session")))
                .setCreated(r.getBoolean("created", false)).build();
          });
        }))
        .bind(SnakepitGrpcService.GetSession, call -> unary(SnakepitGrpcService.GetSession, READ,
            req -> Scope.session(req.getId()), call, (req, cid) ->
            sessions(cid).get(req.getId()).map(GrpcApiVerticle::session)))
        .bind(SnakepitGrpcService.DeleteSession, call -> unary(SnakepitGrpcService.DeleteSession, DELETE,
            req -> Scope.session(req.getId()), call, (req, cid) ->
            sessions(cid).delete(req.getId()).map(d -> DeleteSessionResponse.newBuilder()
                .setDeleted(d).build())))
        .bind(SnakepitGrpcService.ListSessions, call -> unary(SnakepitGrpcService.ListSessions, LIST,
            req -> Scope.session(null), call, (req, cid) -> {
          return sessions(cid).list(req.getCursor().isEmpty() ? null : req.getCursor(),
              req.getLimit() == 0 ? 100 : req.getLimit()).map(r -> {
            ListSessionsResponse.Builder b = ListSessionsResponse.newBuilder()
                .setNextCursor(r.getString("next_cursor", ""));
            JsonArray sessions = r.getJsonArray("sessions", new JsonArray());
            for (int i = 0; i < sessions.size(); i++) {
              b.addSessions(session(sessions.getJsonObject(i)));
            }
            return b.build();
          });
        }))
        .bind(SnakepitGrpcService.GetVariable, call -> unary(SnakepitGrpcService.GetVariable, READ,
            req -> Scope.session(req.getSessionId()), call, (req, cid) ->
            sessions(cid).getVariable(req.getSessionId(), req.getName())
                .map(v -> GetVariableResponse.newBuilder().setValue(JsonValues.toValue(v)).build())))
        .bind(SnakepitGrpcService.PutVariable, call -> unary(SnakepitGrpcService.PutVariable, WRITE,
            req -> Scope.session(req.getSessionId()), call, (req, cid) -> {
          if (!req.hasValue()) {
            throw new SnakepitException(ErrorCode.BAD_REQUEST, "'value' is required; send a JSON null to store null.");
          }
          return sessions(cid).putVariable(req.getSessionId(), req.getName(), JsonValues.toJava(req.getValue()))
              .map(v -> PutVariableResponse.newBuilder().setVersion(v).build());
        }))
        .bind(SnakepitGrpcService.IncrementVariable, call -> unary(SnakepitGrpcService.IncrementVariable, WRITE,
            req -> Scope.session(req.getSessionId()), call,
            (req, cid) -> sessions(cid).increment(req.getSessionId(), req.getName(), req.hasBy() ? req.getBy() : 1)
                .map(v -> IncrementVariableResponse.newBuilder().setValue(v).build())))
        .bind(SnakepitGrpcService.DeleteVariable, call -> unary(SnakepitGrpcService.DeleteVariable, WRITE,
            req -> Scope.session(req.getSessionId()), call, (req, cid) ->
            sessions(cid).deleteVariable(req.getSessionId(), req.getName())
                .map(v -> DeleteVariableResponse.newBuilder().setVersion(v).build())))
        .bind(SnakepitGrpcService.ListVariables, call -> unary(SnakepitGrpcService.ListVariables, READ,
            req -> Scope.session(req.getSessionId()), call, (req, cid) ->
            sessions(cid).variables(req.getSessionId()).map(v -> ListVariablesResponse.newBuilder()
                .setVariables(JsonValues.toStruct(v)).build())))
        .bind(SnakepitGrpcService.GetProgram, call -> unary(SnakepitGrpcService.GetProgram, READ,
            req -> Scope.session(req.getSessionId()), call, (req, cid) ->
            sessions(cid).getProgram(req.getSessionId(), req.getProgramId())
                .map(p -> GetProgramResponse.newBuilder().setProgram(JsonValues.toStruct(p)).build())))
        .bind(SnakepitGrpcService.PutProgram, call -> unary(SnakepitGrpcService.PutProgram, WRITE,
            req -> Scope.session(req.getSessionId()), call, (req, cid) -> {
          if (!req.hasProgram()) {
            throw new SnakepitException(ErrorCode.BAD_REQUEST, "'program' is required: a JSON object.");
          }
          return sessions(cid).putProgram(req.getSessionId(), req.getProgramId(), JsonValues.toJson(req.getProgram()))
              .map(v -> PutProgramResponse.newBuilder().setVersion(v).build());
        }))
        .build();
  }

  /** A unary method's work: the request, its correlation id and its principal to the answer. */
  @FunctionalInterface
  private interface Unary<Q, R> {
    Future<R> apply(Q request, String cid, Principal principal);
  }

  private <Q, R> void unary(ServiceMethod<Q, R> method, GrpcGuard.Rule rule, java.util.function.Function<Q, Scope> scope,
      GrpcServerRequest<Q, R> call, BiFunction<Q, String, Future<R>> fn) {
    unary(method, rule, scope, call, (Unary<Q, R>) (req, cid, who) -> fn.apply(req, cid));
  }

  /**
   * Serves a unary call: reads its request, admits it ({@link GrpcGuard}), runs {@code fn}, answers its result or
   * its typed error.
   */
  private <Q, R> void unary(ServiceMethod<Q, R> method, GrpcGuard.Rule rule, java.util.function.Function<Q, Scope> scope,
      GrpcServerRequest<Q, R> call, Unary<Q, R> fn) {
    String cid = correlationId(call);
    GrpcRequestMessages.one(method, call, cid, req -> {
      if (refused(call, cid)) {
        return;
      }
      Scope s = scope.apply(req);
      Future<R> result = guard.admit(call, cid, rule, s.session(), s.pool(), s.tool()).compose(a -> {
        Future<R> r;
        try {
          r = fn.apply(req, cid, a.principal());
        } catch (RuntimeException e) {
          r = Future.failedFuture(e);
        }
        return r.onComplete(done -> {
          a.permit().release();
          guard.audit(rule, a, cid, s.session(), done.succeeded() ? "ok"
              : SnakepitException.from(done.cause()).errorCode().code());
        });
      });
      result.onComplete(ar -> {
        if (ar.succeeded()) {
          try {
            call.response().end(ar.result());
          } catch (IllegalStateException gone) {
            // the client cancelled the call meanwhile
          }
        } else {
          GrpcErrors.fail(call.response(), SnakepitException.from(ar.cause()).withCorrelationId(cid));
        }
      });
    });
  }

  /** Ends the call with starting or shutting_down (UNAVAILABLE) while the node does not serve; else false. */
  private boolean refused(GrpcServerRequest<?, ?> call, String cid) {
    SnakepitException refusal = servingState.refusal();
    if (refusal == null) {
      return false;
    }
    GrpcErrors.fail(call.response(), refusal.withCorrelationId(cid));
    return true;
  }

  /** The client's correlation id when valid, else a new one; set on the response headers. */
  private static String correlationId(GrpcServerRequest<?, ?> call) {
    String given = call.headers().get(CORRELATION_ID);
    String cid = Headers.correlationIdOrNew(given);
    call.response().headers().set(CORRELATION_ID, cid);
    return cid;
  }

  private static DeliveryOptions options(String cid) {
    return new DeliveryOptions().addHeader(Headers.CORRELATION_ID, cid).setSendTimeout(Addresses.CALL_SEND_TIMEOUT_MS);
  }

  private Future<JsonObject> bus(String address, Object body, String cid) {
    return vertx.eventBus().<JsonObject>request(address, body, options(cid)).map(m -> m.body());
  }

  private SessionStoreClient sessions(String cid) {
    return sessionStore.withCorrelationId(cid);
  }

  /**
   * The event-bus body of an execute: the request's fields as over HTTP. The client's
   * deadline bounds the call's timeout, so the worker stops when the client gives up.
   */
  static JsonObject executeBody(ExecuteRequest req, long deadlineMs) {
    JsonObject body = new JsonObject().put("tool", req.getTool());
    if (req.hasArgs()) {
      body.put("args", JsonValues.toJson(req.getArgs()));
    }
    if (!req.getPool().isEmpty()) {
      body.put("pool", req.getPool());
    }
    if (req.hasTimeoutMs()) {
      long t = req.getTimeoutMs();
      if (t < 1 || t > MAX_TIMEOUT_MS) {
        throw new SnakepitException(ErrorCode.BAD_REQUEST, "'timeout_ms' must be from 1 to " + MAX_TIMEOUT_MS);
      }
      body.put("timeout_ms", deadlineMs > 0 ? Math.min(t, deadlineMs) : t);
    } else if (deadlineMs > 0) {
      body.put("timeout_ms", Math.min(deadlineMs, MAX_TIMEOUT_MS));
    }
    if (!req.getSessionId().isEmpty()) {
      body.put("session_id", req.getSessionId());
    }
    switch (req.getAffinity()) {
      case AFFINITY_UNSPECIFIED -> { }
      case AFFINITY_HINT -> body.put("affinity", "hint");
      case AFFINITY_STRICT_QUEUE -> body.put("affinity", "strict-queue");
      case AFFINITY_STRICT_FAIL_FAST -> body.put("affinity", "strict-fail-fast");
      default -> throw new SnakepitException(ErrorCode.BAD_REQUEST,
          "'affinity' must be one of AFFINITY_HINT, AFFINITY_STRICT_QUEUE, AFFINITY_STRICT_FAIL_FAST");
    }
    return body;
  }

  /** A session as the API shows it (docs/sessions.md), as a message. */
  static Session session(JsonObject s) {
    Session.Builder b = Session.newBuilder()
        .setId(s.getString("id", ""))
        .setCreatedAt(s.getLong("created_at", 0L))
        .setAccessedAt(s.getLong("accessed_at", 0L))
        .setExpiresAt(s.getLong("expires_at", 0L))
        .setTtlS(s.getDouble("ttl_s", 0d))
        .setVersion(s.getLong("version", 0L))
        .setLastNode(s.getString("last_node", ""))
        .setLastWorker(s.getString("last_worker", ""))
        .setMetadata(JsonValues.toStruct(s.getJsonObject("metadata")))
        .setVariables(JsonValues.toStruct(s.getJsonObject("variables")));
    JsonArray programs = s.getJsonArray("program_ids", new JsonArray());
    for (int i = 0; i < programs.size(); i++) {
      b.addProgramIds(String.valueOf(programs.getValue(i)));
    }
    return b.build();
  }
}
