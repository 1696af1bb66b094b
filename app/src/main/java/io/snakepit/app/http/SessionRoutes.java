package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
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
  private final SessionStoreClient sessionStore;
  private final HttpGuard guard;

  SessionRoutes(Vertx vertx, HttpGuard guard) {
    this.vertx = vertx;
    this.guard = guard;
    this.sessionStore = SessionStoreClient.local(vertx);
  }

  /** Attaches the session handlers to the contract's operations. */
  void mount(RouterBuilder api) {
    api.getRoute("createSession").addHandler(this::create);
    api.getRoute("listSessions").addHandler(ctx -> {
      Integer limit = limit(ctx);
      if (limit != null) {
        HttpApiVerticle.answer(ctx, store(ctx).list(ctx.request().getParam("cursor"), limit), 200);
      }
    });
    api.getRoute("exportSessions").addHandler(ctx -> new SessionExport(store(ctx), ctx).run());
    // Import reads its body as a stream, in constant memory; each line is validated by the store.
    api.getRoute("importSessions").setDoValidation(false).addHandler(ctx -> new SessionImport(vertx, ctx).run());
    api.getRoute("getSession").addHandler(this::getWithOwner);
    api.getRoute("deleteSession").addHandler(ctx -> HttpApiVerticle.answer(ctx, store(ctx).delete(ctx.pathParam("id")), 204));
    api.getRoute("listVariables").addHandler(ctx -> HttpApiVerticle.answer(ctx, store(ctx).variables(ctx.pathParam("id"))
        .map(v -> new JsonObject().put("variables", v)), 200));
    api.getRoute("getVariable").addHandler(ctx -> HttpApiVerticle.answer(ctx, store(ctx).getVariable(ctx.pathParam("id"),
        ctx.pathParam("name")).map(v -> new JsonObject().put("value", v)), 200));
    api.getRoute("putVariable").addHandler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        if (!body.containsKey("value")) {
          HttpApiVerticle.fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST,
              "The body must be {\"value\": <any JSON value>}."));
          return;
        }
        HttpApiVerticle.answer(ctx, version(store(ctx).putVariable(ctx.pathParam("id"), ctx.pathParam("name"),
            body.getValue("value"))), 200);
      }
    });
    api.getRoute("incrementVariable").addHandler(ctx -> {
      String text = ctx.body().asString();
      JsonObject body = text == null || text.isBlank() ? new JsonObject() : HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        long by;
        try {
          by = io.snakepit.session.Counter.amount(body.getValue("by", 1)); // 1 for an empty body
        } catch (SnakepitException e) {
          HttpApiVerticle.fail(ctx, e);
          return;
        }
        String name = ctx.pathParam("name");
        HttpApiVerticle.answer(ctx, store(ctx).increment(ctx.pathParam("id"), name, by)
            .map(v -> new JsonObject().put("name", name).put("value", v)), 200);
      }
    });
    api.getRoute("deleteVariable").addHandler(ctx -> HttpApiVerticle.answer(ctx, store(ctx).deleteVariable(ctx.pathParam("id"),
        ctx.pathParam("name")), 204));
    api.getRoute("getProgram").addHandler(ctx -> HttpApiVerticle.answer(ctx, store(ctx).getProgram(ctx.pathParam("id"),
        ctx.pathParam("program_id")).map(p -> new JsonObject().put("program", p)), 200));
    api.getRoute("putProgram").addHandler(ctx -> {
      JsonObject body = HttpApiVerticle.jsonBody(ctx);
      if (body != null) {
        HttpApiVerticle.answer(ctx, version(store(ctx).putProgram(ctx.pathParam("id"), ctx.pathParam("program_id"), body)), 200);
      }
    });
    // As POST /v1/execute: checked by ExecuteRequestReader, not the OpenAPI validator.
    api.getRoute("executeInSession").setDoValidation(false).addHandler(ctx -> {
      ExecuteRequest request = HttpApiVerticle.executeRequest(ctx, ctx.pathParam("id"), guard);
      if (request != null) {
        HttpApiVerticle.execute(vertx, ctx, request);
      }
    });
    api.getRoute("executeStreamInSession").setDoValidation(false).addHandler(ctx -> {
      ExecuteRequest request = HttpApiVerticle.executeRequest(ctx, ctx.pathParam("id"), guard);
      if (request != null) {
        new NdjsonStream(vertx, ctx, request.toJson()).open();
      }
    });
  }

  /** The session store, with the request's correlation id. */
  private SessionStoreClient store(RoutingContext ctx) {
    return sessionStore.withCorrelationId(ctx.get(HttpApiVerticle.CID));
  }

  /** A session, with the node that owns it on the ring. */
  private void getWithOwner(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    store(ctx).get(id).onFailure(t -> HttpApiVerticle.fail(ctx, SnakepitException.from(t)))
        .onSuccess(session -> vertx.eventBus()
            .<JsonObject>request(Addresses.SESSION_OWNER, new JsonObject().put("id", id), HttpApiVerticle.options(ctx))
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
    store(ctx).create(guard.stampCreator(ctx, body)).onFailure(t -> HttpApiVerticle.fail(ctx, SnakepitException.from(t)))
        .onSuccess(reply -> {
          JsonObject session = reply.getJsonObject("session");
          // Create is idempotent: an id that exists answers that session, which a caller may see only if it is its own.
          if (reply.getBoolean("created") || guard.mayHave(ctx, session)) {
            ctx.response().setStatusCode(reply.getBoolean("created") ? 201 : 200)
                .putHeader("Content-Type", "application/json").end(session.encode());
          }
        });
  }

  /** The {@code limit} query parameter (1 to 1000, default 100); null after answering a bad one. */
  private static Integer limit(RoutingContext ctx) {
    String v = ctx.request().getParam("limit");
    try {
      int n = v == null ? 100 : Integer.parseInt(v);
      if (n >= 1 && n <= 1000) {
        return n;
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    HttpApiVerticle.fail(ctx, new SnakepitException(ErrorCode.BAD_REQUEST,
        "'limit' must be a whole number from 1 to 1000"));
    return null;
  }

  private static Future<JsonObject> version(Future<Long> v) {
    return v.map(n -> new JsonObject().put("version", n));
  }
}
