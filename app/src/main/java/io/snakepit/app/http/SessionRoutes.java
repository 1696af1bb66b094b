package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.openapi.router.RouterBuilder;
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

  /** Attaches the session handlers to the contract's operations. */
  void mount(RouterBuilder api) {
    api.getRoute("createSession").addHandler(this::create);
    api.getRoute("listSessions").addHandler(ctx -> ask(ctx, "list", new JsonObject()
        .put("limit", intParam(ctx, "limit", 100)).put("cursor", ctx.request().getParam("cursor")), 200));
    api.getRoute("exportSessions").addHandler(ctx -> new SessionExport(vertx, ctx).run());
    // Import reads its body as a stream, in constant memory; each line is validated by the store.
    api.getRoute("importSessions").setDoValidation(false).addHandler(ctx -> new SessionImport(vertx, ctx).run());
    api.getRoute("getSession").addHandler(this::getWithOwner);
    api.getRoute("deleteSession").addHandler(ctx -> ask(ctx, "delete", id(ctx), 204));
    api.getRoute("listVariables").addHandler(ctx -> ask(ctx, "vars", id(ctx), 200));
    api.getRoute("getVariable").addHandler(ctx -> ask(ctx, "var.get",
        id(ctx).put("name", ctx.pathParam("name")), 200));
    api.getRoute("putVariable").addHandler(ctx -> {
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
    api.getRoute("deleteVariable").addHandler(ctx -> ask(ctx, "var.delete",
        id(ctx).put("name", ctx.pathParam("name")), 204));
    api.getRoute("getProgram").addHandler(ctx -> ask(ctx, "program.get",
        id(ctx).put("program_id", ctx.pathParam("program_id")), 200));
    api.getRoute("putProgram").addHandler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        ask(ctx, "program.put", id(ctx).put("program_id", ctx.pathParam("program_id")).put("program", body), 200);
      }
    });
    api.getRoute("executeInSession").addHandler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        HttpApiVerticle.execute(vertx, ctx, body.put("session_id", ctx.pathParam("id")));
      }
    });
    api.getRoute("executeStreamInSession").addHandler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        new NdjsonStream(vertx, ctx, body.put("session_id", ctx.pathParam("id"))).open();
      }
    });
  }

  /** A session, with the node that owns it on the ring. */
  private void getWithOwner(RoutingContext ctx) {
    request(ctx, "get", id(ctx)).onSuccess(session -> vertx.eventBus()
        .<JsonObject>request(Addresses.SESSION_OWNER, id(ctx), HttpApiVerticle.options(ctx))
        .onComplete(owner -> {
          if (owner.succeeded()) {
            session.put("owner", owner.result().body().getString("owner"));
          }
          ctx.response().putHeader("Content-Type", "application/json").end(session.encode());
        }));
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
