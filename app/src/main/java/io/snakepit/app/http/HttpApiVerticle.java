package io.snakepit.app.http;

import io.snakepit.app.ServingState;
import io.snakepit.app.tls.ServerTls;
import io.snakepit.app.tls.TlsSettings;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.ExecuteRequestCodec;
import io.snakepit.contract.Headers;
import io.snakepit.contract.LocalCodecs;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.openapi.router.RequestExtractor;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.validation.ValidatorException;
import io.vertx.micrometer.PrometheusScrapingHandler;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The HTTP API. Talks to the rest of the node only over the event bus. Every
 * response carries {@code X-Correlation-Id}; every error is
 * {@code {"error": {"code","message","hint","correlation_id",...}}}.
 */
public final class HttpApiVerticle extends VerticleBase {

  static final String CID = "snakepit.cid";
  /** The error code an answer carried, for the audit log's outcome. */
  static final String ERROR_CODE = "snakepit.error";
  /** The Content-Type of a multipart/form-data execute body, kept while the body handler buffers it as opaque. */
  static final String FORM_CONTENT_TYPE = "snakepit.form-content-type";

  private final String nodeId;
  private final String host;
  private final int port;
  private final long maxBodyBytes;
  private final ServingState servingState;
  private HttpServer server;
  /** The server's certificate and its watch, when it speaks TLS. */
  private ServerTls tls;
  private final Map<String, ReadinessCheck> readinessChecks = new LinkedHashMap<>();
  private HealthConfig health;
  private io.snakepit.app.security.AccessControl accessControl = io.snakepit.app.security.AccessControl.open();
  private ConnectionGuard connections;
  private DashboardStreams dashboardStreams;

  /** An API that serves from the start: for applications that deploy what it calls before it. */
  public HttpApiVerticle(String nodeId, String host, int port, long maxBodyBytes) {
    this(nodeId, host, port, maxBodyBytes, ServingState.alwaysServing(nodeId));
  }

  /**
   * An API that answers calls only while {@code servingState} is serving: before, {@code starting},
   * after, {@code shutting_down} (503 with {@code Retry-After}); the probes and /metrics always answer,
   * and {@code GET /ready} has a {@code serving} check.
   */
  public HttpApiVerticle(String nodeId, String host, int port, long maxBodyBytes, ServingState servingState) {
    this.nodeId = nodeId;
    this.host = host;
    this.port = port;
    this.maxBodyBytes = maxBodyBytes;
    this.servingState = java.util.Objects.requireNonNull(servingState);
    readinessChecks.put("serving", ServingGate.readinessCheck(servingState));
  }

  /**
   * Adds a condition to {@code GET /ready}, next to {@code workers} and {@code sessions};
   * call before deploying. Clustering adds {@code cluster} (the node joined its cluster) here.
   */
  public HttpApiVerticle addReadinessCheck(String name, ReadinessCheck check) {
    readinessChecks.put(name, check);
    return this;
  }

  /**
   * Puts the API behind {@code access}: tokens, roles, rate limits and the audit log (docs/security.md). Without
   * it the API is open, for applications that embed it behind their own guard; call before deploying.
   */
  public HttpApiVerticle guardedBy(io.snakepit.app.security.AccessControl access) {
    this.accessControl = java.util.Objects.requireNonNull(access);
    return this;
  }

  /** The bound port, once started. */
  public int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> start() {
    HttpLimits limits;
    try {
      health = HealthConfig.fromJson(config().getJsonObject("health", new JsonObject()));
      limits = HttpLimits.fromJson(config().getJsonObject("http", new JsonObject()));
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    JsonObject contract;
    try (var in = HttpApiVerticle.class.getResourceAsStream("/openapi.json")) {
      contract = new JsonObject(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
    } catch (java.io.IOException | RuntimeException e) {
      return Future.failedFuture(new IllegalStateException("the OpenAPI contract is missing from the jar", e));
    }
    ExecuteRequestCodec.register(vertx);
    LocalCodecs.register(vertx);
    return OpenAPIContract.from(vertx, forValidation(contract.copy())).compose(c -> {
      Router router = buildRouter(RouterBuilder.create(vertx, c, RequestExtractor.withBodyHandler()), contract);
      // TLS (the "tls" section): the certificate files are read off the event loop, then watched for renewals.
      return ServerTls.load(vertx, TlsSettings.parse(config().getJsonObject("tls", new JsonObject())), "HTTP API")
          .compose(t -> {
            // No h2c: the API is HTTP/1.1 (gRPC has its own port), and without the h2c upgrade handler Vert.x
            // hands the guard each connection when it is accepted, not after its first request (ConnectionGuard).
            HttpServerOptions options = limits.applyTo(new HttpServerOptions().setHost(host).setPort(port)
                .setTcpNoDelay(true).setHttp2ClearTextEnabled(false));
            server = vertx.createHttpServer(t == null ? options : t.apply(options));
            connections = new ConnectionGuard(vertx, "http", limits, meterRegistry());
            return server.connectionHandler(connections::connected).requestHandler(connections.requests(router))
                .invalidRequestHandler(MalformedRequests::answer).listen()
                .onSuccess(s -> {
                  if (t != null) {
                    tls = t;
                    t.watch(server, options);
                  }
                });
          });
    });
  }

  /**
   * The contract as the validator takes it. Vert.x OpenAPI 5.0 refuses media
   * types it cannot validate (NDJSON, server-sent events) even where nothing is
   * validated (stream responses, the import body); they become
   * application/octet-stream in this copy. /openapi.json serves the original.
   */
  static JsonObject forValidation(JsonObject node) {
    for (String key : new java.util.ArrayList<>(node.fieldNames())) {
      Object v = node.getValue(key);
      if ("content".equals(key) && v instanceof JsonObject content) {
        JsonObject kept = new JsonObject();
        for (String type : content.fieldNames()) {
          boolean supported = type.startsWith("application/json") || type.startsWith("text/plain")
              || type.equals("application/octet-stream") || type.equals("multipart/form-data");
          kept.put(supported ? type : "application/octet-stream", content.getValue(type));
        }
        node.put(key, kept);
      } else if (v instanceof JsonObject o) {
        forValidation(o);
      }
    }
    return node;
  }

  /** Routes every operation of the contract to its handler; requests are validated against it first. */
  private Router buildRouter(RouterBuilder api, JsonObject contract) {
    BodyHandler bodyHandler = BodyHandler.create(false).setBodyLimit(maxBodyBytes);
    HttpGuard access = new HttpGuard(accessControl, HttpAccessRules.from(contract, accessControl.publicMetrics()),
        io.snakepit.session.SessionStoreClient.local(vertx));
    api.rootHandler(this::correlationId);
    // Before the body is read: a request that may not run costs the node no more than its head.
    api.rootHandler(access::admit);
    api.rootHandler(ctx -> {
      // No route takes a form: Vert.x's body handler would try to decode one (and throws on a GET that says
      // multipart), so such a body is refused as what it is, a client error.
      String type = ctx.request().getHeader("Content-Type");
      if (type != null && type.regionMatches(true, 0, "multipart/", 0, "multipart/".length())) {
        if (!MultipartForm.isFormData(type) || !takesForm(ctx)) {
          fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, "The API takes JSON bodies (Content-Type: "
              + "application/json), NDJSON for an import, and multipart/form-data only for POST /v1/execute "
              + "and POST /v1/sessions/{id}/execute (binary arguments; docs/http-api.md)."));
          return;
        }
        // The form is read from the buffered body by ExecuteRequestReader.readForm, bytes exact; the body
        // handler is told it is opaque so that it buffers it (under max-body-bytes) instead of decoding it.
        ctx.put(FORM_CONTENT_TYPE, type);
        ctx.request().headers().set("Content-Type", "application/octet-stream");
      }
      String charsetProblem = MalformedRequests.charsetProblem(type);
      if (charsetProblem != null) {
        fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, charsetProblem));
        return;
      }
      // Import streams its body itself, in constant memory; every other body is buffered up to the limit.
      if (ctx.request().path().equals("/v1/sessions/import")) {
        ctx.next();
      } else {
        bodyHandler.handle(ctx);
      }
    });
    api.rootHandler(access::ownSession);
    api.rootHandler(new ServingGate(servingState));
    // The execute operations skip the OpenAPI validator: their reader checks the same rules for a fraction of
    // its cost (see ExecuteRequestReader), and decodes the body once.
    api.getRoute("execute").setDoValidation(false).addHandler(ctx -> {
      ExecuteRequest request = executeRequest(ctx, null, access);
      if (request != null) {
        inSession(ctx, request, access, () -> execute(vertx, ctx, request));
      }
    });
    api.getRoute("executeStream").setDoValidation(false).addHandler(ctx -> {
      ExecuteRequest request = executeRequest(ctx, null, access);
      if (request != null) {
        inSession(ctx, request, access, () -> new NdjsonStream(vertx, ctx, request.toJson()).open());
      }
    });
    api.getRoute("listWorkers").addHandler(ctx -> ask(ctx, Addresses.WORKERS));
    api.getRoute("listPools").addHandler(ctx -> ask(ctx, Addresses.POOLS));
    // Answers once the reload has ended (docs/operations.md, "Reloading code").
    api.getRoute("reloadPool").addHandler(ctx -> answer(ctx, vertx.eventBus().<JsonObject>request(
        Addresses.POOL_RELOAD, new JsonObject().put("pool", ctx.pathParam("name")), options(ctx)).map(Message::body),
        200));
    api.getRoute("getCluster").addHandler(ctx -> ask(ctx, Addresses.CLUSTER_VIEW));
    dashboardStreams = new DashboardStreams(vertx);
    api.getRoute("dashboardStream").addHandler(dashboardStreams::open);
    // A full drain, as on SIGTERM: the node answers 202, then drains and stops.
    api.getRoute("drainNode").addHandler(ctx -> answer(ctx, vertx.eventBus().<JsonObject>request(Addresses.STOP,
        new JsonObject(), options(ctx)).map(Message::body), 202));
    // Re-encryption of stored sessions with the active data key (docs/security.md, "Session data encryption").
    api.getRoute("startDataKeyRotation").addHandler(ctx -> answer(ctx, vertx.eventBus().<JsonObject>request(
        Addresses.DATA_KEY_ROTATION, new JsonObject().put("op", "start"), options(ctx)).map(Message::body), 202));
    api.getRoute("getDataKeyRotation").addHandler(ctx -> answer(ctx, vertx.eventBus().<JsonObject>request(
        Addresses.DATA_KEY_ROTATION, new JsonObject().put("op", "status"), options(ctx)).map(Message::body), 200));
    // Live migration of the sessions to another store (docs/migration.md).
    new MigrationRoutes(vertx).mount(api);
    new HealthRoutes(vertx, nodeId, health, readinessChecks).mount(api);
    new SessionRoutes(vertx, access).mount(api);
    Router router = api.createRouter();
    // Prometheus text format, from the node's Micrometer registry (named in the config by the Node).
    String registry = config().getString("metrics-registry");
    if (registry != null) {
      router.get("/metrics").handler(PrometheusScrapingHandler.create(registry));
    }
    mountDashboard(router);
    String served = contract.encodePrettily();
    router.get("/openapi.json").handler(ctx -> ctx.response().putHeader("Content-Type", "application/json")
        .end(served));
    router.route().last().handler(ctx -> fail(ctx, new SnakepitException(ErrorCode.NOT_FOUND,
        "No route for " + ctx.request().method() + " " + ctx.request().path() + "; see /openapi.json.")));
    router.route().failureHandler(this::onFailure);
    return router;
  }

  /**
   * The live cluster page (docs/dashboard.md): static files from the jar's {@code webroot/dashboard}, plain HTML,
   * CSS and JavaScript with nothing loaded from elsewhere, so the page works offline and behind any proxy. Its
   * policy allows only this origin's scripts, styles and connections.
   */
  private static void mountDashboard(Router router) {
    io.vertx.ext.web.handler.StaticHandler files = io.vertx.ext.web.handler.StaticHandler.create("webroot/dashboard")
        .setIndexPage("index.html").setDirectoryListing(false).setCachingEnabled(false);
    String policy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        + "frame-ancestors 'none'";
    router.get(HttpAccessRules.DASHBOARD).handler(ctx -> {
      if (!ctx.request().path().equals(HttpAccessRules.DASHBOARD)) {
        ctx.next(); // "/dashboard/" matches this route too
        return;
      }
      // Served as /dashboard/ itself (no redirect): the page names its files by absolute path.
      ctx.reroute(HttpAccessRules.DASHBOARD + "/");
    });
    router.get(HttpAccessRules.DASHBOARD + "/*").handler(ctx -> {
      ctx.response().putHeader("Content-Security-Policy", policy).putHeader("X-Content-Type-Options", "nosniff");
      files.handle(ctx);
    });
  }

  @Override
  public Future<?> stop() {
    if (dashboardStreams != null) {
      dashboardStreams.closeAll();
    }
    if (connections != null) {
      connections.close();
    }
    if (tls != null) {
      tls.stop();
    }
    return server == null ? Future.succeededFuture() : server.close();
  }

  /** The node's Micrometer registry, named in the config; null when there is none (an application's API). */
  private io.micrometer.core.instrument.MeterRegistry meterRegistry() {
    String name = config().getString("metrics-registry");
    return name == null ? null : io.vertx.micrometer.backends.BackendRegistries.getNow(name);
  }

  private void correlationId(RoutingContext ctx) {
    String given = ctx.request().getHeader(Headers.HTTP_CORRELATION_ID);
    String cid = Headers.correlationIdOrNew(given);
    ctx.put(CID, cid);
    ctx.response().putHeader(Headers.HTTP_CORRELATION_ID, cid);
    String badPath = MalformedRequests.uriProblem(ctx.request().path(), ctx.request().query());
    if (badPath != null) {
      fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, badPath));
      return;
    }
    // Bodies of this API are JSON whatever the client says: `curl -d '{...}'` sends
    // application/x-www-form-urlencoded, and a quick start must work as typed.
    String type = ctx.request().getHeader("Content-Type");
    if ((type == null || type.startsWith("application/x-www-form-urlencoded"))
        && !ctx.request().path().equals("/v1/sessions/import")) {
      ctx.request().headers().set("Content-Type", "application/json");
    }
    ctx.next();
  }

  /** Whether a request may send a form: the unary execute operations, for binary arguments. */
  private static boolean takesForm(RoutingContext ctx) {
    String path = ctx.request().path();
    return ctx.request().method() == io.vertx.core.http.HttpMethod.POST
        && (path.equals("/v1/execute") || path.startsWith("/v1/sessions/") && path.endsWith("/execute")
        && path.indexOf('/', "/v1/sessions/".length()) == path.length() - "/execute".length());
  }

  /**
   * Runs a call through the router and answers its reply or its typed error: JSON, or multipart/form-data
   * with the result's bytes as binary parts when the client asks for it ({@code Accept}).
   */
  static void execute(io.vertx.core.Vertx vertx, RoutingContext ctx, ExecuteRequest request) {
    Future<JsonObject> reply = vertx.eventBus().<JsonObject>request(Addresses.EXECUTE, request, options(ctx))
        .map(Message::body);
    if (!MultipartAnswer.wanted(ctx.request().getHeader("Accept"))) {
      answer(ctx, reply, 200);
      return;
    }
    reply.onComplete(ar -> {
      MultipartForm.Written form;
      try {
        if (ar.failed()) {
          throw SnakepitException.from(ar.cause());
        }
        form = MultipartAnswer.of(ar.result(), ctx.get(CID));
      } catch (SnakepitException e) {
        fail(ctx, e);
        return;
      }
      ctx.response().setStatusCode(200).putHeader("Content-Type", form.contentType()).end(form.body());
    });
  }

  /**
   * The call an execute operation's body asks for, in the session {@code pathSessionId} when the path
   * names one; null after answering 400, or 403 for a pool or tool outside the key's scope.
   */
  static ExecuteRequest executeRequest(RoutingContext ctx, String pathSessionId, HttpGuard guard) {
    ExecuteRequest request;
    try {
      String form = ctx.get(FORM_CONTENT_TYPE);
      request = form != null ? ExecuteRequestReader.readForm(form, ctx.body().buffer(), pathSessionId, ctx.get(CID))
          : ExecuteRequestReader.read(ctx.request().getHeader("Content-Type"), ctx.body().buffer(), pathSessionId,
          ctx.get(CID));
    } catch (SnakepitException e) {
      fail(ctx, e);
      return null;
    }
    return guard.authorizeCall(ctx, request.pool(), request.tool()) ? request : null;
  }

  /** Runs {@code then} once a session named in the body ({@code session_id}) is one the caller may call in. */
  private static void inSession(RoutingContext ctx, ExecuteRequest request, HttpGuard guard, Runnable then) {
    if (request.sessionId() == null) {
      then.run();
    } else {
      guard.authorizeSession(ctx, io.snakepit.app.security.Access.SESSION_WRITE, request.sessionId(), then);
    }
  }

  private void ask(RoutingContext ctx, String address) {
    answer(ctx, vertx.eventBus().<JsonObject>request(address, new JsonObject(), options(ctx)).map(Message::body),
        200);
  }

  /** Answers {@code result} (a JSON object) with {@code status} (204: no body), or its typed error. */
  static void answer(RoutingContext ctx, Future<?> result, int status) {
    result.onComplete(ar -> {
      if (ar.failed()) {
        fail(ctx, SnakepitException.from(ar.cause()));
      } else if (status == 204) {
        ctx.response().setStatusCode(204).end();
      } else {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
            .end(((JsonObject) ar.result()).encode());
      }
    });
  }

  static DeliveryOptions options(RoutingContext ctx) {
    return new DeliveryOptions().addHeader(Headers.CORRELATION_ID, ctx.get(CID))
        .setSendTimeout(Addresses.CALL_SEND_TIMEOUT_MS);
  }

  /** The body as a JSON object, or null after answering 400. */
  static JsonObject jsonBody(RoutingContext ctx) {
    String text = ctx.body().asString();
    if (text == null || text.isBlank()) {
      fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, "The request needs a JSON object body."));
      return null;
    }
    try {
      return new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, "The body is not a JSON object: " + e.getMessage()));
      return null;
    }
  }

  /** Answers with a typed error and its HTTP status. */
  static void fail(RoutingContext ctx, SnakepitException e) {
    if (ctx.response().headWritten()) {
      ctx.response().reset();
      return;
    }
    SnakepitException stamped = e.withCorrelationId(ctx.get(CID));
    ctx.put(ERROR_CODE, stamped.errorCode().code());
    int status = stamped.details().getInteger("http_status", stamped.errorCode().httpStatus());
    ServingGate.retryAfter(ctx, stamped.errorCode());
    if (stamped.errorCode() == ErrorCode.PAYLOAD_TOO_LARGE) {
      // The connection carries no other request after a body too large: say so, and close it once the body is
      // in (see ConnectionGuard.closeOnceRead). Before, it stayed open for whatever the client sent next. Other
      // 413s (limit_exceeded: a session limit) read their body whole and keep the connection.
      ctx.response().putHeader("Connection", "close");
      ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(errorBody(stamped))
          .onComplete(done -> ConnectionGuard.closeOnceRead(ctx.vertx(), ctx.request()));
      return;
    }
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(errorBody(stamped));
  }

  /** The API's error body, {@code {"error": {...}}}, without the internal {@code http_status} detail. */
  static String errorBody(SnakepitException e) {
    JsonObject err = e.toJson();
    err.remove("http_status");
    return new JsonObject().put("error", err).encode();
  }

  private void onFailure(RoutingContext ctx) {
    int status = ctx.statusCode();
    Throwable t = ctx.failure();
    // The OpenAPI router wraps validation failures in an HttpException.
    if (t instanceof io.vertx.ext.web.handler.HttpException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof ValidatorException ve) {
      fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, "The request does not match the API (see /openapi.json): "
          + ve.getMessage()));
    } else if (status == 413) {
      fail(ctx, new SnakepitException(ErrorCode.PAYLOAD_TOO_LARGE,
          "The request body is larger than max-body-bytes=" + maxBodyBytes + "."));
    } else if (t instanceof SnakepitException se) {
      fail(ctx, se);
    } else if (status >= 400 && status < 500) {
      fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, "The request was refused (HTTP " + status + ")"
          + (t == null ? "." : ": " + t.getClass().getName() + " " + t.getMessage()), null,
          new JsonObject().put("http_status", status)));
    } else {
      fail(ctx, SnakepitException.from(t == null ? new IllegalStateException("HTTP " + status) : t));
    }
  }
}
