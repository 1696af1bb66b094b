package io.snakepit.supervisor;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ClusterSubscriptions;
import io.snakepit.contract.CorrelatedLog;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionRoute;
import io.snakepit.session.SessionStoreClient;
import io.snakepit.session.StoredHandoff;
import io.snakepit.session.fencing.OwnershipLease;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Session-state handoff: the one owner of where a session's Python-side state
 * (what an adapter keeps in a worker's memory, exported by its
 * {@code export_session} hook) lives, and of moving it to the worker that runs
 * the session's next call. docs/architecture.md ("Session-state handoff")
 * draws it; this class is the code of that section.
 *
 * <p>Where the state is, as a call's node sees it ({@link Location}):
 * <ul>
 *   <li>{@link Location#HELD_HERE}: a live worker on this node holds it; the call goes there.
 *   <li>{@link Location#HELD_ELSEWHERE}: another node served the session last. This node sends that node a
 *       {@link #REQUEST} ({@code {"session_id"}} at {@code snakepit.node.<old>.handoff}); the old node
 *       exports the state from its worker, forgets the session, and answers the {@link #HANDOFF}
 *       ({@code {"data"}}, null when there is none). If the old node is gone or does not answer within
 *       {@link #REQUEST_TIMEOUT_MS}, the state stored in the session (if any) is used instead.
 *   <li>{@link Location#STORED}: exported state waits in the session ({@link StoredHandoff}): left by a drain
 *       ({@link Reason#DRAIN}, on the way out of a node that stops), or by a checkpoint
 *       ({@link Reason#CHECKPOINT}, periodic, so that a crash of the node loses only what changed since).
 *       It is imported into a worker here, which runs the call, and then cleared.
 *   <li>{@link Location#NONE}: nothing to move.
 * </ul>
 * A failed export or import is logged with the call's correlation id and the call runs without that state:
 * the state is a cache the adapter can rebuild, never a reason to fail a call.
 *
 * <p>Worker ids carry their node's incarnation, so a restarted node never takes a new worker for the one
 * that held a session's state before the restart.
 */
public final class SessionHandoff {

  private static final Logger LOG = LoggerFactory.getLogger(SessionHandoff.class);

  /** The operation a session's new node sends to its old one, under {@link Addresses#node}. */
  public static final String REQUEST = "handoff";
  /** Name of the old node's answer to a {@link #REQUEST}: {@code {"data": base64 or null}}. */
  public static final String HANDOFF = "handoff-reply";
  /** How long a new owner waits for the old node's {@link #HANDOFF} before using the stored state. */
  public static final long REQUEST_TIMEOUT_MS = 10_000;
  /** How soon a request that met "no handlers" at a node still in the cluster is sent again. */
  static final long NO_HANDLERS_RETRY_MS = 250;
  /** How often an ask for a session's state checks that the node asked is still a member of the cluster. */
  static final long MEMBERSHIP_CHECK_MS = 250;

  /** Where a session's Python-side state is, as seen by the node about to run a call in it. */
  public enum Location { NONE, HELD_HERE, HELD_ELSEWHERE, STORED }

  /** Why state is exported into the store. */
  public enum Reason {
    /** The node is leaving: the export is superseded by this node's next call in the session, if any. */
    DRAIN,
    /** Periodic: stays while this node serves the session, so that a crash loses only what came after. */
    CHECKPOINT
  }

  /**
   * Where a call's session state was found, and the worker to prefer.
   *
   * @param preferredWorker the worker on this node that now holds the state, or null
   * @param lastNode        the node that served the session before this call
   * @param lastWorker      the worker that served it
   * @param leaseEpoch      the epoch of this node's ownership lease when the call was admitted
   * @param order           the call's claim's order among the session's claims ({@link io.snakepit.session.SessionStore.Claim})
   */
  public record Placement(String preferredWorker, String lastNode, String lastWorker, long leaseEpoch, long order) {
    static final Placement NONE = new Placement(null, null, null, -1, -1);

    /** A placement whose claim order does not matter (tests). */
    public Placement(String preferredWorker, String lastNode, String lastWorker, long leaseEpoch) {
      this(preferredWorker, lastNode, lastWorker, leaseEpoch, 0);
    }
  }

  private final Vertx vertx;
  private final ProcessSupervisor supervisor;
  private final SessionStoreClient store;
  /**
   * Set when a drain's export begins: from then on this node runs no call in a session. A call served
   * here after the export would change (or, through {@code clearHandoff}, discard) state that dies with
   * this node; refused with {@code shutting_down} before it runs, it is routed again to the new owner.
   */
  private volatile boolean draining;
  /**
   * Sessions whose state this node handed to a new owner on its request ({@link #handOff}), with when
   * ({@link System#nanoTime()}). A call that reaches this node meanwhile (its copy of the partition table is a
   * little behind the new owner's) is refused with the retryable {@code not_owner}, and routed again, until
   * the store says the new owner has served the session: it would otherwise claim the session back and pull
   * the state back at once (tests/chaos.sh --seed 4 found such calls running here at the same time as the new
   * owner's before claims were ordered).
   */
  private final Map<String, Long> handedOff = new ConcurrentHashMap<>();
  /**
   * How long a hand-over refuses calls here if the new owner never records serving the session (it failed
   * meanwhile): shorter than the router's default forward-retry-ms (15 s), so a call it refuses still runs.
   */
  static final long HANDED_OFF_MS = REQUEST_TIMEOUT_MS;
  /**
   * How long a hand-over waits for the calls this node is running in the session to end before it exports
   * the state: shorter than the new owner's {@link #REQUEST_TIMEOUT_MS}, so that it still gets the export.
   */
  static final long RUNNING_WAIT_MS = REQUEST_TIMEOUT_MS * 4 / 5;
  /**
   * Calls admitted in each session ({@link #takeOver}) that have not ended ({@link #leave}), counted by their
   * claim's order. A hand-over waits for those whose claim came before the new owner's: the new owner starts
   * only when the old one's earlier calls are over, including one still pulling the state from a node before
   * it, so two nodes never run calls of one session at once across a move (tests/chaos.sh --seed 1 found a
   * 6 ms overlap). Calls claimed after the new owner are not waited for: they wait for it instead, and
   * waiting for them would close a cycle.
   */
  private final Map<String, java.util.TreeMap<Long, Integer>> running = new ConcurrentHashMap<>();
  /** The pulls of sessions' state from other nodes in flight here, each completing with the worker it landed in. */
  private final Map<String, Future<String>> pulls = new ConcurrentHashMap<>();

  SessionHandoff(Vertx vertx, ProcessSupervisor supervisor, SessionStoreClient store) {
    this.vertx = vertx;
    this.supervisor = supervisor;
    this.store = store;
  }

  /** Answers other nodes' {@link #REQUEST}s for sessions this node served. */
  void serve(ClusterSubscriptions subscriptions) {
    subscriptions.add(Addresses.node(supervisor.nodeId(), REQUEST), m -> {
      Object sid = m.body() == null ? null : m.body().getValue("session_id");
      if (!(sid instanceof String id)) {
        m.reply(new JsonObject().putNull("data"));
        return;
      }
      // A requester that names its claim's order waits only for calls claimed before it; one that does not, for all.
      long before = m.body().getValue("order") instanceof Number n ? n.longValue() : Long.MAX_VALUE;
      handOff(id, before).onComplete(ar -> m.reply(new JsonObject().put("data", ar.succeeded() ? ar.result()
          : null)));
    });
  }

  /** The location of a session's state, from its route and this node's live workers. */
  static Location locate(SessionRoute route, String nodeId, Predicate<String> alive) {
    boolean servedHere = nodeId.equals(route.lastNode());
    if (servedHere && route.lastWorker() != null && alive.test(route.lastWorker())) {
      return Location.HELD_HERE;
    }
    if (route.lastNode() != null && !servedHere) {
      return Location.HELD_ELSEWHERE;
    }
    return route.handoff() != null ? Location.STORED : Location.NONE;
  }

  /**
   * Before a call in a session: checks the session exists, touches it, and
   * brings its state to a worker here if it is elsewhere. Fails with
   * {@code session_not_found} when the session does not exist.
   */
  public Future<Placement> takeOver(ExecuteRequest request) {
    if (request.sessionId() == null) {
      return Future.succeededFuture(Placement.NONE);
    }
    if (draining) {
      return Future.failedFuture(new SnakepitException(ErrorCode.SHUTTING_DOWN, "Node " + supervisor.nodeId()
          + " is draining and has handed off its sessions' state; the call did not run. Send it to another node "
          + "(the node's own router does so by itself).", request.correlationId(),
          new JsonObject().put("session_id", request.sessionId())));
    }
    OwnershipLease lease = OwnershipLease.of(vertx);
    long epoch = lease.epoch();
    SessionStoreClient s = store.withCorrelationId(request.correlationId());
    String sid = request.sessionId();
    // The claim comes first: on a partition's minority side it fails with minority_partition, which the caller can
    // act on; a lease lapsed otherwise (a pause) fails it, or the check below, with not_owner.
    return handOverEnded(s, request).compose(v -> s.route(sid, supervisor.nodeId()))
        .recover(t -> Future.failedFuture(noStore(t)))
        .compose(route -> {
          if (!lease.heldSince(epoch)) {
            return Future.failedFuture(new SnakepitException(ErrorCode.NOT_OWNER, "Node " + supervisor.nodeId()
                + " was paused past its ownership lease and its cluster has not yet confirmed it as a member; the "
                + "call did not run. Its router routes it again.", request.correlationId(),
                new JsonObject().put("session_id", request.sessionId())));
          }
          long order = route.order();
          // Counted from its claim on: a hand-over asked for by a node that claims later waits for it.
          enter(sid, order);
          return bringState(request, route, order, s)
              .map(w -> new Placement(w, route.lastNode(), route.lastWorker(), epoch, order))
              .onFailure(t -> exit(sid, order));
        });
  }

  /** Brings the session's state to a worker here, from where {@code route} (as it was before the claim) says. */
  private Future<String> bringState(ExecuteRequest request, SessionRoute route, long order, SessionStoreClient s) {
    String sid = request.sessionId();
    Future<String> pulling = pulls.get(sid);
    if (pulling != null && supervisor.nodeId().equals(route.lastNode()) && route.lastWorker() == null) {
      // An earlier call here claimed the session and still pulls its state: this one runs where that lands, or
      // is refused as that one is when the state could not be taken over (owner_unavailable; nothing else fails).
      return pulling.recover(t -> Future.failedFuture(
          SnakepitException.from(t).withCorrelationId(request.correlationId())));
    }
    return switch (locate(route, supervisor.nodeId(), supervisor::isAlive)) {
      case HELD_HERE -> {
        if (route.handoff() != null && !route.handoff().checkpoint()) {
          // This node served the session after its drain's export: the worker's state is newer than the
          // export. A checkpoint stays: it is what survives a crash of this node.
          s.clearHandoff(sid);
        }
        yield Future.succeededFuture(route.lastWorker());
      }
      case HELD_ELSEWHERE -> {
        Future<String> pull = request(route.lastNode(), request, order, route.majorityOnly())
            .compose(data -> data != null ? importInto(request, data)
                : route.handoff() != null ? importStored(request) : Future.succeededFuture());
        pulls.put(sid, pull);
        pull.onComplete(ar -> pulls.remove(sid, pull));
        yield pull;
      }
      case STORED -> importStored(request);
      case NONE -> Future.succeededFuture();
    };
  }

  /**
   * Succeeds unless this node handed the session's state over and the store does not yet say that the new
   * owner served it (then fails with {@code not_owner}). Forgets the hand-over once the store names another
   * node with the worker that served it (a call here then takes the state back the usual way), or after
   * {@link #HANDED_OFF_MS}. Reads the session, without claiming it, only while a hand-over stands.
   */
  private Future<Void> handOverEnded(SessionStoreClient s, ExecuteRequest request) {
    String sid = request.sessionId();
    Long at = handedOff.get(sid);
    if (at == null) {
      return Future.succeededFuture();
    }
    if (System.nanoTime() - at > HANDED_OFF_MS * 1_000_000) {
      handedOff.remove(sid);
      return Future.succeededFuture();
    }
    return s.route(sid).compose(r -> {
      if (r.lastNode() != null && !r.lastNode().equals(supervisor.nodeId()) && r.lastWorker() != null) {
        handedOff.remove(sid);
        return Future.succeededFuture();
      }
      return Future.failedFuture(new SnakepitException(ErrorCode.NOT_OWNER, "Node " + supervisor.nodeId()
          + " has handed session '" + sid + "' over to its new owner; the call did not run here. Its router "
          + "routes it again.", request.correlationId(), new JsonObject().put("session_id", sid)));
    });
  }

  private void enter(String sessionId, long order) {
    running.compute(sessionId, (k, m) -> {
      java.util.TreeMap<Long, Integer> orders = m == null ? new java.util.TreeMap<>() : m;
      orders.merge(order, 1, Integer::sum);
      return orders;
    });
  }

  private void exit(String sessionId, long order) {
    running.computeIfPresent(sessionId, (k, m) -> {
      m.computeIfPresent(order, (o, n) -> n > 1 ? n - 1 : null);
      return m.isEmpty() ? null : m;
    });
  }

  /** How many calls admitted here run in the session with a claim ordered before {@code before}. */
  private int runningBefore(String sessionId, long before) {
    int[] n = {0};
    running.computeIfPresent(sessionId, (k, m) -> {
      m.headMap(before).values().forEach(c -> n[0] += c);
      return m;
    });
    return n[0];
  }

  /**
   * Runs a call admitted by {@link #takeOver} and ends it ({@link #leave}) when its future completes, however
   * it completes.
   */
  public <T> Future<T> whileRunning(ExecuteRequest request, Placement placement,
                                    java.util.function.Supplier<Future<T>> call) {
    Future<T> f;
    try {
      f = call.get();
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    return f.onComplete(ar -> leave(request, placement));
  }

  /** A call admitted by {@link #takeOver} has ended (streams call this when they end). */
  public void leave(ExecuteRequest request, Placement placement) {
    if (request.sessionId() != null) {
      exit(request.sessionId(), placement.order());
    }
  }

  private static SnakepitException noStore(Throwable t) {
    SnakepitException e = SnakepitException.from(t);
    return e.errorCode() == ErrorCode.STARTING
        ? new SnakepitException(ErrorCode.SESSION_NOT_FOUND, "This node has no session store, so calls cannot "
            + "run in a session.") : e;
  }

  /**
   * Before a session call's result is acknowledged: fails with {@code node_lost} if this node's ownership
   * lease lapsed since the call was admitted. The node was paused meanwhile and its cluster may have dropped
   * it, so what the call wrote may not survive: the caller learns that the outcome is unknown instead of
   * getting a result the cluster may since have lost (docs/cluster.md, "Fencing").
   */
  public <T> Future<T> acknowledge(ExecuteRequest request, Placement placement, T result) {
    if (request.sessionId() == null || OwnershipLease.of(vertx).heldSince(placement.leaseEpoch())) {
      return Future.succeededFuture(result);
    }
    return Future.failedFuture(new SnakepitException(ErrorCode.NODE_LOST, "Node " + supervisor.nodeId()
        + " was paused while call " + request.tool() + " ran in session '" + request.sessionId() + "', and its "
        + "cluster may have dropped it meanwhile: what the call wrote may or may not have been kept. Read the "
        + "session before retrying a call that is not idempotent.", request.correlationId(),
        new JsonObject().put("session_id", request.sessionId()).put("outcome", "unknown")));
  }

  /**
   * After a call: records the worker that served it when that changed, so the next call finds it. Fails, with
   * the outcome unknown, when the store refused because this node may no longer serve the session (it found
   * itself on a partition's minority side, or lost its lease, while the call ran): the tool ran, but the
   * session's next call, on another node, will not look for what it kept in Python here, so the caller must not
   * take the call as done (tests/chaos.sh --seed 11 --majority saw such a {@code remember} acknowledged, then
   * lost). Other failures are logged and the call's own result stands.
   */
  public Future<Void> served(ExecuteRequest request, Placement placement, String workerId) {
    if (request.sessionId() == null || (Objects.equals(placement.lastWorker(), workerId)
        && supervisor.nodeId().equals(placement.lastNode()))) {
      return Future.succeededFuture();
    }
    return store.withCorrelationId(request.correlationId()).served(request.sessionId(), supervisor.nodeId(), workerId)
        // The session may have been deleted meanwhile; the call's own result still stands. Said in the log: the
        // next call may then look for the session's state where it no longer is (docs/cluster.md, "Chaos runs").
        .recover(t -> {
          SnakepitException e = SnakepitException.from(t);
          if (e.errorCode() == ErrorCode.MINORITY_PARTITION || e.errorCode() == ErrorCode.NOT_OWNER) {
            return Future.failedFuture(new SnakepitException(e.errorCode(), "Call " + request.tool() + " ran in "
                + "session '" + request.sessionId() + "' on node " + supervisor.nodeId() + ", but the node may no "
                + "longer serve the session (" + e.getMessage() + "), so the session's next call may not find what "
                + "the tool kept in Python here. Read the session before retrying a call that is not idempotent.",
                request.correlationId(), new JsonObject().put("session_id", request.sessionId())
                .put("outcome", "unknown").put(SnakepitException.DETAIL_TOOL_RAN, true)));
          }
          CorrelatedLog.with(request.correlationId(), () -> LOG.info("Could not record that worker {} served "
              + "session {}: {}", workerId, request.sessionId(), t.getMessage()));
          return Future.succeededFuture();
        });
  }

  // ---- the new owner's side ----------------------------------------------------------------------

  private Future<String> request(String oldNode, ExecuteRequest call, long order, boolean majorityOnly) {
    return request(oldNode, call, order, majorityOnly, System.nanoTime() + REQUEST_TIMEOUT_MS * 1_000_000);
  }

  /**
   * Asks {@code oldNode} for the state until {@code deadline}. "No handlers" while the old node is still a
   * member of the store's cluster is transient: right after a partition heals, the merged event bus may not yet
   * know the old node's subscriptions (eclipse-vertx/vert.x#4394; the node registers them again when it notices),
   * and giving up then would run the call on stale state (tests/chaos.sh --seed 11 --majority lost a
   * {@code remember} so). A node that is gone from the store's cluster is not waited for.
   *
   * <p>With {@code majorityOnly} ({@code partition-mode: majority}) a call never runs on stored state while the
   * old node is still a member: in a partial partition the old node and this one both see a majority through a
   * third node that sees both, and the old node may still be running a call in the session, so running this one
   * too could lose a read-modify-write (tests/chaos.sh --seed 11 --majority, bridge partition). The call fails
   * with {@code owner_unavailable} before it runs; once the cluster removes one of the two, calls go on.
   */
  private Future<String> request(String oldNode, ExecuteRequest call, long order, boolean majorityOnly,
                                 long deadline) {
    long leftMs = (deadline - System.nanoTime()) / 1_000_000;
    DeliveryOptions o = new DeliveryOptions().setSendTimeout(Math.max(1, leftMs));
    if (call.correlationId() != null) {
      o.addHeader(io.snakepit.contract.Headers.CORRELATION_ID, call.correlationId());
    }
    return untilGone(oldNode, vertx.eventBus().<JsonObject>request(Addresses.node(oldNode, REQUEST),
            new JsonObject().put("session_id", call.sessionId()).put("order", order), o))
        .map(m -> m.body().getString("data"))
        .recover(t -> {
          boolean member = oldNodeIsMember(oldNode);
          if (t instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS
              && (deadline - System.nanoTime()) / 1_000_000 > NO_HANDLERS_RETRY_MS && member) {
            Promise<String> retried = Promise.promise();
            vertx.setTimer(NO_HANDLERS_RETRY_MS,
                id -> request(oldNode, call, order, majorityOnly, deadline).onComplete(retried));
            return retried.future();
          }
          if (majorityOnly && member) {
            return Future.failedFuture(new SnakepitException(ErrorCode.OWNER_UNAVAILABLE, "Node "
                + supervisor.nodeId() + " could not take session '" + call.sessionId() + "' over from node "
                + oldNode + ", which is still a member of the cluster but did not answer (" + t.getMessage()
                + "). With partition-mode: majority a call never runs beside another node's calls in its session, "
                + "so this one did not run. Retry shortly: the cluster reaches " + oldNode + " again or removes it.",
                call.correlationId(), new JsonObject().put("session_id", call.sessionId()).put("node", oldNode)));
          }
          CorrelatedLog.with(call.correlationId(), () -> LOG.info("Node {} did not hand off the state of session {} "
              + "({}); using the state stored in the session, if any", oldNode, call.sessionId(), t.getMessage()));
          return Future.succeededFuture((String) null);
        });
  }

  /**
   * {@code reply}, or a failure as soon as {@code oldNode} is no longer a member of the store's cluster. A node
   * whose host is gone (a killed container, a crashed machine) drops packets instead of refusing them, so the
   * event bus's connection to it hangs, and an ask sent just before the cluster removed the node waited out the
   * whole {@link #REQUEST_TIMEOUT_MS}: sessions of a killed Compose node were served 15 s after the kill, against
   * 5 s of failure detection (docker/test-cluster.sh). Without a placement (no cluster), it is {@code reply}.
   */
  private <T> Future<T> untilGone(String oldNode, Future<T> reply) {
    if (io.snakepit.routing.SessionPlacement.of(vertx) == null) {
      return reply;
    }
    Promise<T> answer = Promise.promise();
    long watch = vertx.setPeriodic(MEMBERSHIP_CHECK_MS, id -> {
      if (!oldNodeIsMember(oldNode)) {
        answer.tryFail(new ReplyException(ReplyFailure.NO_HANDLERS, "node " + oldNode + " left the cluster"));
      }
    });
    reply.onComplete(ar -> {
      if (ar.succeeded()) {
        answer.tryComplete(ar.result());
      } else {
        answer.tryFail(ar.cause());
      }
    });
    return answer.future().onComplete(done -> vertx.cancelTimer(watch));
  }

  private boolean oldNodeIsMember(String oldNode) {
    io.snakepit.routing.SessionPlacement placement = io.snakepit.routing.SessionPlacement.of(vertx);
    return placement != null && placement.isMember(oldNode);
  }

  private Future<String> importStored(ExecuteRequest call) {
    return store.withCorrelationId(call.correlationId()).getHandoff(call.sessionId())
        .compose(h -> h == null || h.data() == null ? Future.succeededFuture((String) null)
            : importInto(call, h.data()))
        .recover(t -> failedImport(call, t));
  }

  /** Imports base64 state into a worker here, then clears what the store held; completes with the worker. */
  private Future<String> importInto(ExecuteRequest call, String base64) {
    String sid = call.sessionId();
    JsonObject args = new JsonObject().put("session_id", sid);
    // Raw in the map, so that the bytes travel to the worker as an attachment, not base64.
    args.getMap().put("data", Buffer.buffer(Base64.getDecoder().decode(base64)));
    ExecuteRequest imp = new ExecuteRequest(call.pool(), ExecuteRequest.RESERVED_PREFIX + "import__", args,
        0, null, call.correlationId());
    return supervisor.execute(imp)
        .compose(r -> supervisor.onContext(() -> {
          supervisor.heldOnlyBy(sid, r.getString("worker"));
          return Future.succeededFuture(r.getString("worker"));
        }))
        .compose(w -> store.withCorrelationId(call.correlationId()).clearHandoff(sid).map(w))
        .recover(t -> failedImport(call, t));
  }

  private static Future<String> failedImport(ExecuteRequest call, Throwable t) {
    CorrelatedLog.with(call.correlationId(),
        () -> LOG.warn("Importing the state of session {} failed: {}", call.sessionId(), t.getMessage()));
    return Future.succeededFuture(null);
  }

  // ---- the old owner's side ----------------------------------------------------------------------

  /**
   * Answers a {@link #REQUEST} from a node whose claim has order {@code before}: refuses new calls in the
   * session here, lets the calls claimed here before that end (one may still be pulling the state from a
   * node before this one), then exports the state from the worker here that holds it and forgets the session
   * here. Completes with the base64 state, or null when no worker holds any.
   */
  Future<String> handOff(String sessionId, long before) {
    return supervisor.onContext(() -> {
      handedOff.put(sessionId, System.nanoTime());
      return callsEnded(sessionId, before, System.nanoTime() + RUNNING_WAIT_MS * 1_000_000).compose(v -> {
        ProcessSupervisor.HeldState held = supervisor.holderOf(sessionId);
        if (held == null) {
          return Future.succeededFuture((String) null);
        }
        return exportFrom(held, sessionId, "handoff-").map(data -> {
          supervisor.forgetSession(held.workerId(), sessionId);
          handedOff.put(sessionId, System.nanoTime());
          return data;
        });
      });
    });
  }

  /**
   * Completes once no call claimed here before {@code before} runs in the session, or at {@code deadline}
   * (logged).
   */
  private Future<Void> callsEnded(String sessionId, long before, long deadline) {
    int n = runningBefore(sessionId, before);
    if (n == 0) {
      return Future.succeededFuture();
    }
    if (System.nanoTime() - deadline >= 0) {
      LOG.warn("Handing session {} over while {} of its calls still run here (they outlasted {} ms)", sessionId,
          n, RUNNING_WAIT_MS);
      return Future.succeededFuture();
    }
    Promise<Void> next = Promise.promise();
    vertx.setTimer(20, t -> callsEnded(sessionId, before, deadline).onComplete(next));
    return next.future();
  }

  /**
   * Exports the state of every session this node's workers hold into the
   * store, one export at a time per worker, all workers at once.
   *
   * @return {@code {"exported": n, "empty": n, "failed": n}}
   */
  public Future<JsonObject> handOffAll(Reason reason) {
    return supervisor.onContext(() -> {
      if (reason == Reason.DRAIN) {
        draining = true;
      }
      int[] counts = new int[3];
      List<Future<Void>> perWorker = new ArrayList<>();
      for (ProcessSupervisor.HeldState held : supervisor.heldSessions()) {
        Future<Void> chain = Future.succeededFuture();
        for (String sid : held.sessionIds()) {
          chain = chain.transform(ar -> store(held, sid, reason).map(outcome -> {
            counts[outcome]++;
            return (Void) null;
          }));
        }
        perWorker.add(chain);
      }
      return Future.join(perWorker).transform(ar -> Future.succeededFuture(new JsonObject()
          .put("exported", counts[0]).put("empty", counts[1]).put("failed", counts[2])));
    });
  }

  /**
   * Exports the state of the sessions one worker holds into the store, one
   * at a time, and forgets them there: the next call of each session imports
   * it on whichever worker runs it. A reload does this for each worker it
   * retires. Completes once every export has ended, whatever their outcome
   * (a failure is logged; the state is a cache the adapter can rebuild).
   */
  Future<Void> handOffWorker(String pool, String workerId, List<String> sessionIds) {
    ProcessSupervisor.HeldState held = new ProcessSupervisor.HeldState(pool, workerId, sessionIds);
    Future<Void> chain = Future.succeededFuture();
    for (String sid : sessionIds) {
      chain = chain.transform(ar -> store(held, sid, Reason.DRAIN).map(outcome -> {
        if (outcome != 2) {
          supervisor.forgetSession(workerId, sid);
        }
        return (Void) null;
      }));
    }
    return chain;
  }

  /** 0 = exported, 1 = nothing to export, 2 = failed. */
  private Future<Integer> store(ProcessSupervisor.HeldState held, String sessionId, Reason reason) {
    boolean checkpoint = reason == Reason.CHECKPOINT;
    return exportFrom(held, sessionId, checkpoint ? "checkpoint-" : "drain-").compose(data -> data == null
        ? Future.succeededFuture(1)
        : store.putHandoff(sessionId, new StoredHandoff(data, supervisor.nodeId(), held.workerId(), checkpoint))
            .map(v -> 0))
        .recover(t -> {
          LOG.warn("Could not hand off session {} from worker {}: {}", sessionId, held.workerId(), t.getMessage());
          return Future.succeededFuture(2);
        });
  }

  /** Runs the reserved export tool on the worker that holds the session; the base64 state, or null. */
  private Future<String> exportFrom(ProcessSupervisor.HeldState held, String sessionId, String why) {
    ExecuteRequest export = new ExecuteRequest(held.pool(), ExecuteRequest.RESERVED_PREFIX + "export__",
        new JsonObject().put("session_id", sessionId), 0, null, why + sessionId, ExecuteRequest.Affinity.STRICT_QUEUE);
    return supervisor.execute(export, held.workerId())
        .map(reply -> reply.getValue("result") == null ? null : reply.getString("result"));
  }
}
