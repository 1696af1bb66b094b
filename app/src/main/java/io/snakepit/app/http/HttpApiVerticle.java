package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The HTTP API. Talks to the rest of the node only over the event bus. Every
 * response carries {@code X-Correlation-Id}; every error is
 * {@code {"error": {"code","message","hint","correlation_id",...}}}.
 */
public final class HttpApiVerticle extends VerticleBase {

  static final String CID = "snakepit.cid";
  private static final Pattern VALID_CID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  /** Event-bus timeout for calls; the supervisor enforces the real call timeout, this is only a backstop. */
  private static final long BUS_TIMEOUT_MS = 86_400_000L + 60_000;

  private final String nodeId;
  private final String host;
  private final int port;
  private final long maxBodyBytes;
  private HttpServer server;

  public HttpApiVerticle(String nodeId, String host, int port, long maxBodyBytes) {
    this.nodeId = nodeId;
    this.host = host;
    this.port = port;
    this.maxBodyBytes = maxBodyBytes;
  }

  /** The bound port, once started. */
  public int actualPort() {
    return server.actualPort();
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    BodyHandler bodyHandler = BodyHandler.create(false).setBodyLimit(maxBodyBytes);
    router.route().handler(this::correlationId);
    // Import streams its body itself, in constant memory; every other request body is buffered up to the limit.
    router.post("/v1/*").handler(ctx -> {
      if (ctx.request().path().equals("/v1/sessions/import")) {
        ctx.next();
      } else {
        bodyHandler.handle(ctx);
      }
    });
    router.put("/v1/*").handler(bodyHandler);
    router.post("/v1/execute").handler(ctx -> {
      JsonObject body = jsonBody(ctx);
      if (body != null) {
        execute(vertx, ctx, body);
      }
    });
    new SessionRoutes(vertx).mount(router);
    router.post("/v1/execute/stream").handler(ctx -> new NdjsonStream(vertx, ctx, jsonBody(ctx)).open());
    router.get("/v1/workers").handler(ctx -> ask(ctx, Addresses.WORKERS));
    router.get("/v1/pools").handler(ctx -> ask(ctx, Addresses.POOLS));
    router.get("/health").handler(ctx -> ctx.json(new JsonObject().put("status", "UP").put("node", nodeId)));
    router.route().last().handler(ctx -> fail(ctx, new SnakepitException(ErrorCode.NOT_FOUND,
        "No route for " + ctx.request().method() + " " + ctx.request().path() + ".")));
    router.route().failureHandler(this::onFailure);
    server = vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port).setTcpNoDelay(true));
    return server.requestHandler(router).listen();
  }

  @Override
  public Future<?> stop() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  private void correlationId(RoutingContext ctx) {
    String given = ctx.request().getHeader(Headers.HTTP_CORRELATION_ID);
    String cid = given != null && VALID_CID.matcher(given).matches() ? given : UUID.randomUUID().toString();
    ctx.put(CID, cid);
    ctx.response().putHeader(Headers.HTTP_CORRELATION_ID, cid);
    ctx.next();
  }

  /** Runs a call through the supervisor and answers its reply or its typed error. */
  static void execute(io.vertx.core.Vertx vertx, RoutingContext ctx, JsonObject body) {
    vertx.eventBus().<JsonObject>request(Addresses.EXECUTE, body, options(ctx)).onComplete(ar -> {
      if (ar.succeeded()) {
        ctx.json(ar.result().body());
      } else {
        fail(ctx, SnakepitException.from(ar.cause()));
      }
    });
  }

  private void ask(RoutingContext ctx, String address) {
    vertx.eventBus().<JsonObject>request(address, new JsonObject(), options(ctx)).onComplete(ar -> {
      if (ar.succeeded()) {
        ctx.json(ar.result().body());
      } else {
        fail(ctx, SnakepitException.from(ar.cause()));
      }
    });
  }

  static DeliveryOptions options(RoutingContext ctx) {
    return new DeliveryOptions().addHeader(Headers.CORRELATION_ID, ctx.get(CID)).setSendTimeout(BUS_TIMEOUT_MS);
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
    int status = stamped.details().getInteger("http_status", stamped.errorCode().httpStatus());
    JsonObject err = stamped.toJson();
    err.remove("http_status");
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .end(new JsonObject().put("error", err).encode());
  }

  private void onFailure(RoutingContext ctx) {
    int status = ctx.statusCode();
    Throwable t = ctx.failure();
    if (status == 413) {
      fail(ctx, new SnakepitException(ErrorCode.PAYLOAD_TOO_LARGE,
          "The request body is larger than max-body-bytes=" + maxBodyBytes + "."));
    } else if (t instanceof SnakepitException se) {
      fail(ctx, se);
    } else if (status >= 400 && status < 500) {
      fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST, "The request was refused (HTTP " + status + ").", null,
          new JsonObject().put("http_status", status)));
    } else {
      fail(ctx, SnakepitException.from(t == null ? new IllegalStateException("HTTP " + status) : t));
    }
  }
}
