package io.snakepit.supervisor;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.BytePaths;
import io.snakepit.contract.ClusterSubscriptions;
import io.snakepit.contract.CorrelatedLog;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequestCodec;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.Headers;
import io.snakepit.contract.LocalCodecs;
import io.snakepit.contract.SnakepitException;
import io.snakepit.contract.StreamLiveness;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Process supervision, served over the event bus: runs the calls the router
 * sends to this node ({@link Addresses#SUPERVISOR_EXECUTE},
 * {@link Addresses#SUPERVISOR_STREAM_OPEN}) on its Python workers, bringing a
 * session's Python-side state to them first ({@link SessionHandoff}); exports
 * that state on a drain ({@link Addresses#SUPERVISOR_HANDOFF}) and answers
 * other nodes' handoff requests; reports workers ({@link Addresses#WORKERS})
 * and pools ({@link Addresses#POOLS}). Its configuration is a
 * {@link SupervisorConfig} in JSON.
 */
public class ProcessSupervisorVerticle extends VerticleBase {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ProcessSupervisorVerticle.class);

  private ProcessSupervisor supervisor;
  private SessionHandoff handoff;
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private ClusterSubscriptions clusterConsumers;
  private long checkpointTimer = -1;
  private final MeterRegistry meterRegistry;

  /** Records metrics into Micrometer's global registry (a no-op until a backend is added to it). */
  public ProcessSupervisorVerticle() {
    this(Metrics.globalRegistry);
  }

  /** Records metrics of pools and calls into {@code registry}. */
  public ProcessSupervisorVerticle(MeterRegistry registry) {
    this.meterRegistry = registry;
  }

  /** The tracer of the node's calls, when it traces (docs/tracing.md); null when it does not. */
  private io.opentelemetry.api.trace.Tracer tracer;

  /**
   * Traces the calls this verticle runs with {@code tracer}: their spans on workers, the spans the workers
   * report, and the node calls they make. Without it (the default) nothing is traced and nothing is spent.
   */
  public ProcessSupervisorVerticle tracedBy(io.opentelemetry.api.trace.Tracer tracer) {
    this.tracer = tracer;
    return this;
  }

  /** The supervisor this verticle serves; available once started. */
  public ProcessSupervisor supervisor() {
    return supervisor;
  }

  @Override
  public Future<?> start() {
    SupervisorConfig cfg;
    try {
      cfg = SupervisorConfig.fromJson(config());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    supervisor = new ProcessSupervisor(vertx, context, cfg, meterRegistry);
    if (tracer != null) {
      supervisor.traceWith(tracer);
    }
    ExecuteRequestCodec.register(vertx);
    LocalCodecs.register(vertx);
    EventBus eb = vertx.eventBus();
    // Node-local: calls arrive here after the routing verticle chose this node.
    consumers.add(eb.localConsumer(Addresses.SUPERVISOR_EXECUTE, this::onExecute));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.SUPERVISOR_STREAM_OPEN, this::onStreamOpen));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.WORKERS,
        m -> m.reply(new JsonObject().put("workers", supervisor.workers()))));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.POOLS,
        m -> m.reply(new JsonObject().put("pools", supervisor.pools()))));
    handoff = new SessionHandoff(vertx, supervisor, SessionStoreClient.local(vertx));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.SUPERVISOR_HANDOFF,
        m -> handoff.handOffAll(SessionHandoff.Reason.DRAIN).onComplete(ar -> m.reply(ar.succeeded() ? ar.result()
            : new JsonObject().put("error", String.valueOf(ar.cause()))))));
    consumers.add(eb.<JsonObject>localConsumer(Addresses.POOL_RELOAD, m -> supervisor.reload(
        m.body() == null ? null : m.body().getString("pool"), handoff)
        .onComplete(ar -> SnakepitException.reply(m, ar, m.headers().get(Headers.CORRELATION_ID)))));
    if (cfg.checkpointIntervalMs() > 0) {
      // Off by default: a periodic export lets an adapter's state survive a crash of its node too.
      checkpointTimer = vertx.setPeriodic(cfg.checkpointIntervalMs(),
          t -> handoff.handOffAll(SessionHandoff.Reason.CHECKPOINT));
    }
    // Cluster-wide: the new owner of a session asks for its Python-side state here before running it.
    clusterConsumers = new ClusterSubscriptions(vertx);
    handoff.serve(clusterConsumers);
    // Adapters drop a session's Python-side state when it is deleted or expires, wherever that happened.
    clusterConsumers.add(Addresses.EVENTS, m -> {
      JsonObject ev = m.body();
      String type = ev == null ? null : ev.getString("type");
      if ("session.deleted".equals(type) || "session.expired".equals(type)) {
        supervisor.sessionClosed(ev.getString("session_id"));
      }
    });
    return supervisor.start();
  }

  @Override
  public Future<?> stop() {
    consumers.forEach(MessageConsumer::unregister);
    if (clusterConsumers != null) {
      clusterConsumers.close();
    }
    vertx.cancelTimer(checkpointTimer);
    return supervisor == null ? Future.succeededFuture() : supervisor.stop();
  }

  private void onExecute(Message<Object> msg) {
    String cid = msg.headers().get(Headers.CORRELATION_ID);
    ExecuteRequest req;
    try {
      req = ExecuteRequest.from(msg.body(), cid);
    } catch (SnakepitException e) {
      e.failMessage(msg);
      return;
    }
    handoff.takeOver(req)
        .compose(placement -> handoff.whileRunning(req, placement, () -> supervisor.execute(req,
            placement.preferredWorker())
            .compose(reply -> handoff.served(req, placement, reply.getString("worker")).map(reply)))
            .compose(reply -> handoff.acknowledge(req, placement, reply)))
        .onComplete(ar -> {
          if (ar.succeeded()) {
            if (LOG.isDebugEnabled()) { // the MDC round trip costs on every call, even with debug off
              CorrelatedLog.with(cid, () -> LOG.debug("Call {} ran on worker {}", req.tool(),
                  ar.result().getString("worker")));
            }
          } else {
            logFailure(req, SnakepitException.from(ar.cause()).withCorrelationId(cid));
          }
          // Only this node's router sends here (a local consumer): hand the reply over, do not copy it.
          SnakepitException.replyLocally(msg, ar, cid);
        });
  }

  /**
   * One line per failed call, with its correlation id: what the node did
   * about a call shows next to what its Python worker logged for it.
   * Failures the node caused or met (5xx) are warnings; the caller's are info.
   */
  static void logFailure(ExecuteRequest req, SnakepitException e) {
    String pool = req.pool() != null ? req.pool() : "(default)";
    CorrelatedLog.with(e.correlationId(), () -> {
      if (e.errorCode().httpStatus() >= 500 && e.errorCode() != ErrorCode.TOOL_FAILED) {
        LOG.warn("Call {} on pool {} failed: {}: {}", req.tool(), pool, e.errorCode().code(), e.getMessage());
      } else {
        LOG.info("Call {} on pool {} failed: {}: {}", req.tool(), pool, e.errorCode().code(), e.getMessage());
      }
    });
  }

  private void onStreamOpen(Message<JsonObject> msg) {
    String cid = msg.headers().get(Headers.CORRELATION_ID);
    ExecuteRequest req;
    String sink;
    int credit;
    try {
      req = ExecuteRequest.fromJson(msg.body(), cid);
      sink = msg.body().getValue("sink") instanceof String s && !s.isEmpty() ? s : null;
      if (sink == null) {
        throw new SnakepitException(ErrorCode.BAD_REQUEST, "'sink' must name the address that takes the items", cid,
            null);
      }
      Object c = msg.body().getValue("credit", 16);
      if (!(c instanceof Number n) || n.intValue() < 1) {
        throw new SnakepitException(ErrorCode.BAD_REQUEST, "'credit' must be a positive whole number", cid, null);
      }
      credit = ((Number) c).intValue();
    } catch (SnakepitException e) {
      e.failMessage(msg);
      return;
    }
    handoff.takeOver(req).onComplete(ar -> {
      if (ar.failed()) {
        SnakepitException.from(ar.cause()).withCorrelationId(cid).failMessage(msg);
      } else {
        openStream(msg, req, sink, credit, cid, ar.result());
      }
    });
  }

  private void openStream(Message<JsonObject> msg, ExecuteRequest req, String sink, int credit, String cid,
                          SessionHandoff.Placement placement) {
    String control = Addresses.STREAM_CONTROL_PREFIX + UUID.randomUUID();
    EventBus eb = vertx.eventBus();
    MessageConsumer<JsonObject>[] controlConsumer = new MessageConsumer[1];
    // -1: no keep-alive running; -2: its consumer is gone (cancelled); -3: the stream has ended.
    long[] keepAlive = {-1};
    StreamHandle handle = supervisor.stream(req, new StreamObserver() {
      @Override
      public void onStart(String workerId) {
        handoff.served(req, placement, workerId);
        eb.send(sink, new JsonObject().put("type", "start").put("worker", workerId).put("node", supervisor.nodeId()));
      }

      @Override
      public void onItem(Object item) {
        // The sink may be on another node (the stream's front door): name the item's bytes for it.
        JsonObject event = new JsonObject().put("type", "item").put("item", item);
        eb.send(sink, event, BytePaths.mark(new DeliveryOptions(), event));
      }

      @Override
      public void onEnd() {
        eb.send(sink, new JsonObject().put("type", "end"));
        done();
      }

      @Override
      public void onError(SnakepitException error) {
        eb.send(sink, new JsonObject().put("type", "error").put("error", error.withCorrelationId(cid).toJson()));
        done();
      }

      private void done() {
        if (keepAlive[0] != -3) {
          handoff.leave(req, placement);
        }
        if (controlConsumer[0] != null) {
          controlConsumer[0].unregister();
        }
        if (keepAlive[0] >= 0) {
          vertx.cancelTimer(keepAlive[0]);
        }
        keepAlive[0] = -3;
      }
    }, credit, placement.preferredWorker());
    controlConsumer[0] = eb.consumer(control, m -> {
      JsonObject body = m.body();
      if (body == null) {
        return;
      }
      if (body.getBoolean("cancel", false)) {
        handle.cancel();
      } else if (body.getValue("credit") instanceof Number n) {
        handle.request(n.intValue());
      }
    });
    msg.reply(new JsonObject().put("control", control).put(StreamLiveness.OPEN_FIELD, StreamLiveness.INTERVAL_MS));
    // Tell the consumer this node is still there (StreamLiveness); a consumer that is gone ends the stream.
    if (keepAlive[0] <= -2) {
      return;
    }
    JsonObject alive = new JsonObject().put("type", StreamLiveness.ALIVE);
    DeliveryOptions aliveOptions = new DeliveryOptions().setSendTimeout(StreamLiveness.SILENCE_MS);
    keepAlive[0] = vertx.setPeriodic(1, StreamLiveness.INTERVAL_MS, t -> eb.request(sink, alive, aliveOptions)
        .onFailure(e -> {
          if (e instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS && keepAlive[0] >= 0) {
            CorrelatedLog.with(cid, () -> LOG.info("The consumer of a stream of {} is gone; cancelling it",
                req.tool()));
            vertx.cancelTimer(keepAlive[0]);
            keepAlive[0] = -2;
            handle.cancel();
          }
        }));
  }
}
