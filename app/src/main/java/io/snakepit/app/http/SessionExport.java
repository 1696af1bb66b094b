package io.snakepit.app.http;

import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /v1/sessions/export}: every session, in the export form (storage form without the node's
 * reserved keys),
 * one JSON object per line. Pages through the store and fetches the next page
 * only when the client has taken the last one, so memory stays constant
 * whatever the store's size. The last line is {@code {"exported": n}}.
 */
final class SessionExport {

  private static final int PAGE = 500;

  private final SessionStoreClient store;
  private final RoutingContext ctx;
  private final HttpServerResponse response;
  private long exported;
  private boolean closed;

  SessionExport(SessionStoreClient store, RoutingContext ctx) {
    this.store = store;
    this.ctx = ctx;
    this.response = ctx.response();
  }

  void run() {
    response.closeHandler(v -> closed = true);
    page(null);
  }

  private void page(String cursor) {
    store.export(cursor, PAGE).onComplete(ar -> {
          if (closed) {
            return;
          }
          if (ar.failed()) {
            SnakepitException e = SnakepitException.from(ar.cause());
            if (response.headWritten()) {
              response.end(new JsonObject().put("error", e.withCorrelationId(ctx.get(HttpApiVerticle.CID)).toJson())
                  .encode() + "\n");
            } else {
              HttpApiVerticle.fail(ctx, e);
            }
            return;
          }
          if (!response.headWritten()) {
            response.setChunked(true).putHeader("Content-Type", "application/x-ndjson");
          }
          JsonArray sessions = ar.result().getJsonArray("sessions");
          StringBuilder lines = new StringBuilder();
          for (Object s : sessions) {
            lines.append(((JsonObject) s).encode()).append('\n');
          }
          exported += sessions.size();
          String next = ar.result().getString("next_cursor");
          if (next == null) {
            response.end(lines.append(new JsonObject().put("exported", exported).encode()).append('\n').toString());
            return;
          }
          response.write(lines.toString());
          if (response.writeQueueFull()) {
            response.drainHandler(v -> page(next));
          } else {
            page(next);
          }
        });
  }
}
