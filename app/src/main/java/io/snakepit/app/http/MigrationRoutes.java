package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.openapi.router.RouterBuilder;

/**
 * The admin API of a live migration between session stores (docs/migration.md): {@code POST /v1/admin/migration}
 * starts one ({@code {"to", "settings"}}), {@code GET} tells its status, and {@code POST .../verify},
 * {@code .../cutover}, {@code .../commit}, {@code .../rollback} move it on. Each is a request to
 * {@link Addresses#MIGRATION}, whose typed errors ({@code bad_request}, {@code conflict}) are answered as they are;
 * who may call what is in {@link HttpAccessRules}.
 */
final class MigrationRoutes {

  private final Vertx vertx;

  MigrationRoutes(Vertx vertx) {
    this.vertx = vertx;
  }

  void mount(RouterBuilder api) {
    api.getRoute("startMigration").addHandler(this::start);
    api.getRoute("getMigration").addHandler(ctx -> op(ctx, "status", 200));
    api.getRoute("verifyMigration").addHandler(ctx -> op(ctx, "verify", 202));
    api.getRoute("repairMigration").addHandler(ctx -> op(ctx, "repair", 202));
    api.getRoute("cutoverMigration").addHandler(ctx -> op(ctx, "cutover", 200));
    api.getRoute("commitMigration").addHandler(ctx -> op(ctx, "commit", 200));
    api.getRoute("rollbackMigration").addHandler(ctx -> op(ctx, "rollback", 200));
  }

  private void start(RoutingContext ctx) {
    JsonObject body = HttpApiVerticle.jsonBody(ctx);
    if (body != null) {
      send(ctx, body.copy().put("op", "start"), 202);
    }
  }

  private void op(RoutingContext ctx, String op, int status) {
    send(ctx, new JsonObject().put("op", op), status);
  }

  private void send(RoutingContext ctx, JsonObject request, int status) {
    HttpApiVerticle.answer(ctx, vertx.eventBus().<JsonObject>request(Addresses.MIGRATION, request,
        HttpApiVerticle.options(ctx)).map(Message::body), status);
  }
}
