package io.snakepit.app.dashboard;

import io.micrometer.core.instrument.MeterRegistry;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.ClusterSubscriptions;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the live cluster page shows (docs/dashboard.md), gathered on the node that serves the page.
 *
 * <ul>
 *   <li>Every node answers its own figures at {@link Addresses#nodeFigures} (cluster-wide): its workers and
 *   their states, and per pool its size, ready workers and the calls of the last seconds with their latency
 *   buckets. Only this node knows its workers and its meters.</li>
 *   <li>{@link Addresses#DASHBOARD} (node-local) answers the cluster's figures: the cluster view, then each node
 *   in it asked for its own, with a short deadline so that a dead node only leaves a gap. Figures are gathered
 *   when asked, never on a timer of their own, and askers within {@link Addresses#DASHBOARD_FIGURES_MAX_AGE_MS}
 *   share one gathering: a node nobody watches sends nothing, and ten open pages cost what one does.</li>
 *   <li>The events of {@link Addresses#EVENTS} the page shows are kept (the last {@link #EVENTS_KEPT}) for the
 *   page's first view, and passed on locally to {@link Addresses#DASHBOARD_EVENTS} as they arrive.</li>
 * </ul>
 *
 * <p>Why asking and not each node publishing its figures: publishing costs every node a message per second to
 * every member whether anyone looks or not; asking costs nothing until a page is open.
 */
public final class DashboardVerticle extends VerticleBase {

  /** How many recent events the page's first view carries. */
  static final int EVENTS_KEPT = 100;
  /** How long a node's own figures may take: past it the page shows the node without them. */
  static final long NODE_FIGURES_TIMEOUT_MS = 800;
  /** The longest text of an event's field the page gets (a crash's stderr can be long). */
  private static final int TEXT_MAX = 2_000;

  /** The events the page shows; the others (session.*, worker.started, a reload's progress) are noise there. */
  static final Set<String> SHOWN = Set.of("node.joined", "node.left", "node.draining", "worker.crashed",
      "worker.recycled", "pool.degraded", "pool.recovered", "pool.reload.started", "pool.reload.finished",
      "pool.reload.failed");

  private final String nodeId;
  private final PoolLatencyWindow latencies;
  private final ClusterFigures figures;
  private final Deque<JsonObject> events = new ArrayDeque<>();
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private ClusterSubscriptions clusterConsumers;
  private Future<JsonObject> gathering;
  private long gatheredAtNanos;

  /** The dashboard of node {@code nodeId}, whose pools' meters are in {@code registry}. */
  public DashboardVerticle(String nodeId, MeterRegistry registry) {
    this.nodeId = nodeId;
    this.latencies = new PoolLatencyWindow(registry);
    this.figures = new ClusterFigures(nodeId);
  }

  @Override
  public Future<?> start() {
    clusterConsumers = new ClusterSubscriptions(vertx);
    List<Future<Void>> registered = new ArrayList<>();
    registered.add(clusterConsumers.add(Addresses.nodeFigures(nodeId), m -> ownFigures().onComplete(ar ->
        SnakepitException.reply(m, ar, m.headers().get(Headers.CORRELATION_ID)))));
    registered.add(clusterConsumers.add(Addresses.EVENTS, m -> onEvent(m.body())));
    MessageConsumer<JsonObject> local = vertx.eventBus().localConsumer(Addresses.DASHBOARD, this::onAsk);
    consumers.add(local);
    registered.add(local.completion());
    return Future.all(registered);
  }

  @Override
  public Future<?> stop() {
    consumers.forEach(MessageConsumer::unregister);
    return clusterConsumers == null ? Future.succeededFuture() : clusterConsumers.close();
  }

  private void onAsk(Message<JsonObject> m) {
    String op = m.body() == null ? null : m.body().getString("op");
    String cid = m.headers().get(Headers.CORRELATION_ID);
    if ("figures".equals(op)) {
      clusterFigures().onComplete(ar -> SnakepitException.reply(m, ar, cid));
    } else if ("snapshot".equals(op)) {
      clusterFigures().map(f -> new JsonObject().put("figures", f).put("events", new JsonArray(new ArrayList<>(events))))
          .onComplete(ar -> SnakepitException.reply(m, ar, cid));
    } else {
      new SnakepitException(ErrorCode.BAD_REQUEST, "'" + Addresses.DASHBOARD + "' takes {\"op\": \"snapshot\"} or "
          + "{\"op\": \"figures\"}; see docs/dashboard.md.").withCorrelationId(cid).failMessage(m);
    }
  }

  /** The cluster's figures, gathered now unless a gathering under the maximum age is there to share. */
  private Future<JsonObject> clusterFigures() {
    long now = System.nanoTime();
    if (gathering != null && (!gathering.isComplete()
        || now - gatheredAtNanos < Addresses.DASHBOARD_FIGURES_MAX_AGE_MS * 1_000_000)) {
      return gathering;
    }
    gatheredAtNanos = now;
    gathering = vertx.eventBus().<JsonObject>request(Addresses.CLUSTER_VIEW, new JsonObject(), ask())
        .compose(view -> {
          JsonObject v = view.body();
          Map<String, JsonObject> answered = new HashMap<>();
          List<Future<?>> asked = new ArrayList<>();
          for (Object o : v.getJsonArray("nodes", new JsonArray())) {
            String id = ((JsonObject) o).getString("id");
            Future<JsonObject> own = id.equals(nodeId) ? ownFigures()
                : vertx.eventBus().<JsonObject>request(Addresses.nodeFigures(id), new JsonObject(), ask())
                    .map(Message::body);
            // A node that does not answer (gone, paused, older) is shown from the view alone.
            asked.add(own.onSuccess(f -> answered.put(id, f)).otherwiseEmpty());
          }
          return Future.join(asked).otherwiseEmpty()
              .map(x -> figures.build(v, answered, System.currentTimeMillis()))
              .compose(this::withSessionCount);
        });
    return gathering;
  }

  /**
   * Fills in the active sessions from this node's store when the view had no counts per owner (a node alone,
   * or counts not in yet): the store's count is then the whole of them.
   */
  private Future<JsonObject> withSessionCount(JsonObject f) {
    JsonObject sessions = f.getJsonObject("sessions");
    if (sessions.getValue("active") != null) {
      return Future.succeededFuture(f);
    }
    return SessionStoreClient.local(vertx).withTimeout(NODE_FIGURES_TIMEOUT_MS).count()
        .map(n -> {
          sessions.put("active", n);
          return f;
        }).otherwise(f);
  }

  private static DeliveryOptions ask() {
    return new DeliveryOptions().setSendTimeout(NODE_FIGURES_TIMEOUT_MS).addHeader(Headers.CORRELATION_ID,
        "dashboard");
  }

  /** This node's own figures: its workers, and its pools with their calls over the latency window. */
  private Future<JsonObject> ownFigures() {
    var bus = vertx.eventBus();
    Future<Message<JsonObject>> workers = bus.request(Addresses.WORKERS, new JsonObject(), ask());
    Future<Message<JsonObject>> pools = bus.request(Addresses.POOLS, new JsonObject(), ask());
    return Future.all(workers, pools).map(x -> {
      Map<String, JsonObject> windows = latencies.sample(System.nanoTime());
      JsonArray out = new JsonArray();
      for (Object o : pools.result().body().getJsonArray("pools", new JsonArray())) {
        JsonObject p = (JsonObject) o;
        JsonObject w = windows.get(p.getString("name"));
        JsonObject pool = new JsonObject().put("name", p.getString("name")).put("size", p.getInteger("size"))
            .put("ready", p.getInteger("ready")).put("inflight", p.getInteger("inflight"))
            .put("queue_depth", p.getInteger("queue_depth")).put("degraded", p.getBoolean("degraded", false));
        // A pool without a timer has had no call since the node started, so none in the window either.
        out.add(w != null ? pool.mergeIn(w) : pool.put("calls", 0).put("window_ms", PoolLatencyWindow.WINDOW_MS)
            .put("latency_buckets", new JsonArray()));
      }
      return new JsonObject().put("node", nodeId).put("at", System.currentTimeMillis())
          .put("workers", workers.result().body().getJsonArray("workers", new JsonArray())).put("pools", out);
    });
  }

  private void onEvent(JsonObject ev) {
    if (ev == null || !SHOWN.contains(ev.getString("type"))) {
      return;
    }
    JsonObject shown = ev.copy();
    for (String k : List.of("stderr", "reason", "error")) {
      if (shown.getValue(k) instanceof String s && s.length() > TEXT_MAX) {
        shown.put(k, "…" + s.substring(s.length() - TEXT_MAX));
      }
    }
    events.addLast(shown);
    while (events.size() > EVENTS_KEPT) {
      events.removeFirst();
    }
    vertx.eventBus().publish(Addresses.DASHBOARD_EVENTS, shown);
  }
}
