package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * The session routes of the HTTP API ({@code /v1/sessions/...}). Each asks
 * the session-storage verticle over the event bus; see docs/http-api.md.
 */
final class SessionRoutes {

  private final Vertx vertx;

  SessionRoutes(Vertx vertx) {
    this.vertx = vertx;
  }

  void mount(Router router) {
    router.post("/v1/sessions").handler(this::create);
    router.get("/v1/sessions").handler(ctx -> ask(ctx, "list", new JsonObject()
        .put("limit", intParam(ctx, "limit", 100)).put("cursor", ctx.request().getParam("cursor")), 200));
    router.get("/v1/sessions/export").handler(ctx -> new SessionExport(vertx, ctx).run());
    router.post("/v1/sessions/import").handler(ctx -> new SessionImport(vertx, ctx).run());
    router.get("/v1/sessions/:id").handler(ctx -> ask(ctx, "get", id(ctx), 200));
    router.delete("/v1/sessions/:id").handler(ctx -> ask(ctx, "delete", id(ctx), 204));
    router.get("/v1/sessions/:id/variables").handler(ctx -> ask(ctx, "vars", id(ctx), 200));
    router.get("/v1/sessions/:id/variables/:name").handler(ctx -> ask(ctx, "var.get",
        id(ctx).put("name", ctx.pathParam("name")), 200));
    router.put("/v1/sessions/:id/variables/:name").handler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        if (!body.containsKey("value")) {
          HttpApiVerticle.fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST,
              "The body must be {\"value\": <any JSON value>}."));
          return;
        }
        ask(ctx, "var.put", id(ctx).put("name", ctx.pathParam("name")).put("value", body.getValue("value")), 200);
      }
    });
    router.delete("/v1/sessions/:id/variables/:name").handler(ctx -> ask(ctx, "var.delete",
        id(ctx).put("name", ctx.pathParam("name")), 204));
    router.get("/v1/sessions/:id/programs/:program").handler(ctx -> ask(ctx, "program.get",
        id(ctx).put("program_id", ctx.pathParam("program")), 200));
    router.put("/v1/sessions/:id/programs/:program").handler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        ask(ctx, "program.put", id(ctx).put("program_id", ctx.pathParam("program")).put("program", body), 200);
      }
    });
    router.post("/v1/sessions/:id/execute").handler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        HttpApiVerticle.execute(vertx, ctx, body.put("session_id", ctx.pathParam("id")));
      }
    });
    router.post("/v1/sessions/:id/execute/stream").handler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        new NdjsonStream(vertx, ctx, body.put("session_id", ctx.pathParam("id"))).open();
      }
    });
  }

  private void create(RoutingContext ctx) {
    JsonObject body = ctx.body().length() <= 0 ? new JsonObject() : HttpApiVerticle.jsonBody(ctx);
    if (body == null) {
      return;
    }
    request(ctx, "create", body).onSuccess(reply -> ctx.response().setStatusCode(
            reply.getBoolean("created") ? 201 : 200).putHeader("Content-Type", "application/json")
        .end(reply.getJsonObject("session").encode()));
  }

  private static JsonObject id(RoutingContext ctx) {
    return new JsonObject().put("id", ctx.pathParam("id"));
  }

  private static Object intParam(RoutingContext ctx, String name, int def) {
    String v = ctx.request().getParam(name);
    if (v == null) {
      return def;
    }
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      return v; // the store answers bad_request naming the parameter
    }
  }

  /** Sends to the session store; answers the reply with {@code status} (204: no body), or the typed error. */
  private void ask(RoutingContext ctx, String op, JsonObject body, int status) {
    request(ctx, op, body).onSuccess(reply -> {
      if (status == 204) {
        ctx.response().setStatusCode(204).end();
      } else {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(reply.encode());
      }
    });
  }

  private Future<JsonObject> request(RoutingContext ctx, String op, JsonObject body) {
    return vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + op, body, HttpApiVerticle.options(ctx))
        .map(m -> m.body())
        .onFailure(t -> HttpApiVerticle.fail(ctx, SnakepitException.from(t)));
  }
}
