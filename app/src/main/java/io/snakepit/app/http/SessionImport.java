package io.snakepit.app.http;

import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code POST /v1/sessions/import}: sessions in the export form, one per line,
 * read as a stream and merged in batches. The request is paused while a batch
 * is stored, so memory stays constant whatever the size of the body. Each line
 * is validated; a bad line is reported with its number and changes nothing.
 * Merging is idempotent, so an import can be run again after a failure.
 * Sessions the merge left out are counted apart, with their line, id and
 * reason: {@code deleted} (a newer tombstone won) or {@code expired}.
 */
final class SessionImport {

  private static final int BATCH = 200;
  /** A line longer than this is refused, so one huge line cannot exhaust memory. */
  private static final int MAX_LINE = 16 * 1024 * 1024;
  private static final int MAX_REPORTED_ERRORS = 100;

  private final Vertx vertx;
  private final RoutingContext ctx;
  private final HttpServerRequest request;
  private JsonArray batch = new JsonArray();
  private final JsonArray batchLines = new JsonArray();
  private final JsonArray errors = new JsonArray();
  private final JsonArray skippedSessions = new JsonArray();
  private final JsonObject skippedReasons = new JsonObject();
  private long line;
  private long imported;
  private long skipped;
  private long failed;
  private boolean ended;
  private boolean inFlight;
  private boolean answered;

  SessionImport(Vertx vertx, RoutingContext ctx) {
    this.vertx = vertx;
    this.ctx = ctx;
    this.request = ctx.request();
  }

  void run() {
    RecordParser parser = RecordParser.newDelimited("\n", request).maxRecordSize(MAX_LINE);
    parser.exceptionHandler(t -> answerError(new SnakepitException(io.snakepit.contract.ErrorCode.PAYLOAD_TOO_LARGE,
        "A line of the import is longer than " + MAX_LINE + " bytes.")));
    parser.handler(this::onLine);
    parser.endHandler(v -> {
      ended = true;
      flush();
    });
    // In case a handler before this one paused the request (HttpGuard does while a check waits).
    request.resume();
  }

  private void onLine(Buffer raw) {
    line++;
    String text = raw.toString().strip();
    if (text.isEmpty()) {
      return;
    }
    try {
      JsonObject o = new JsonObject(text);
      if (o.containsKey("exported") && o.size() == 1) {
        return; // the summary line an export ends with
      }
      batch.add(o);
      batchLines.add(line);
    } catch (DecodeException | ClassCastException e) {
      error(line, "not a JSON object: " + e.getMessage());
    }
    if (batch.size() >= BATCH) {
      flush();
    }
  }

  private void error(long lineNo, String message) {
    failed++;
    if (errors.size() < MAX_REPORTED_ERRORS) {
      errors.add(new JsonObject().put("line", lineNo).put("message", message));
    }
  }

  private void flush() {
    if (inFlight) {
      return;
    }
    if (batch.isEmpty()) {
      if (ended) {
        answer();
      }
      return;
    }
    JsonArray sending = batch;
    JsonArray lines = batchLines.copy();
    batch = new JsonArray();
    batchLines.clear();
    inFlight = true;
    request.pause();
    SessionStoreClient.local(vertx).withCorrelationId(ctx.get(HttpApiVerticle.CID)).importSessions(sending)
        .onComplete(ar -> {
          inFlight = false;
          if (ar.failed()) {
            answerError(SnakepitException.from(ar.cause()));
            return;
          }
          JsonObject r = ar.result();
          imported += r.getLong("imported", 0L);
          skipped(r, lines);
          for (Object e : r.getJsonArray("errors", new JsonArray())) {
            JsonObject err = (JsonObject) e;
            Integer index = err.getInteger("index");
            error(index == null ? -1 : lines.getLong(index), err.getString("message"));
          }
          request.resume();
          if (ended || batch.size() >= BATCH) {
            flush();
          }
        });
  }

  /** Adds up a batch's skipped sessions; each reported one gets its line number. */
  private void skipped(JsonObject r, JsonArray lines) {
    skipped += r.getLong("skipped", 0L);
    r.getJsonObject("skipped_reasons", new JsonObject()).forEach(e ->
        skippedReasons.put(e.getKey(), skippedReasons.getLong(e.getKey(), 0L) + ((Number) e.getValue()).longValue()));
    for (Object o : r.getJsonArray("skipped_sessions", new JsonArray())) {
      JsonObject s = (JsonObject) o;
      if (skippedSessions.size() < MAX_REPORTED_ERRORS) {
        Integer index = s.getInteger("index");
        skippedSessions.add(new JsonObject().put("line", index == null ? -1 : lines.getLong(index))
            .put("id", s.getString("id")).put("reason", s.getString("reason")));
      }
    }
  }

  private void answer() {
    if (!answered) {
      answered = true;
      ctx.json(new JsonObject().put("imported", imported).put("skipped", skipped)
          .put("skipped_reasons", skippedReasons).put("skipped_sessions", skippedSessions)
          .put("failed", failed).put("errors", errors));
    }
  }

  private void answerError(SnakepitException e) {
    if (!answered) {
      answered = true;
      HttpApiVerticle.fail(ctx, e);
    }
  }
}
