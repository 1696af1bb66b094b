package io.snakepit.contract;

/** Event-bus addresses of the product, defined once. Documented in docs/event-bus.md. */
public final class Addresses {

  private Addresses() {
  }

  /**
   * Request-reply, node-local: run a tool; body {@code {"tool","args","pool"?,"timeout_ms"?,"session_id"?}}.
   * The routing verticle takes it and sends the call to the node that should run it.
   */
  public static final String EXECUTE = "snakepit.execute";

  /**
   * Request-reply: open a stream; body as {@link #EXECUTE} plus {@code "sink"} (the
   * address chunks go to) and {@code "credit"}. The reply carries {@code "control"},
   * the address that takes {@code {"credit": n}} and {@code {"cancel": true}}.
   */
  public static final String STREAM_OPEN = "snakepit.stream.open";

  /** Request-reply: the node's workers; reply {@code {"workers": [...]}}. */
  public static final String WORKERS = "snakepit.workers";

  /** Request-reply: the node's pools; reply {@code {"pools": [...]}}. */
  public static final String POOLS = "snakepit.pools";

  /**
   * Request-reply: reload a pool's code ({@code {"pool": name}}); the reply, once the reload has ended, is
   * {@code {"pool": name, "reload": {...}}}, or the typed error {@code reload_failed},
   * {@code reload_in_progress} or {@code unknown_pool}. Node-local.
   */
  public static final String POOL_RELOAD = "snakepit.pools.reload";

  /** Publish: system events (worker started, crashed, recycled, pool degraded, ...). */
  public static final String EVENTS = "snakepit.events";

  /**
   * Prefix of the session store's operations: {@code snakepit.session.<op>}, with ops
   * create, get, exists, delete, list, count, stats, health, var.get, var.put, var.delete,
   * vars, program.get, program.put, meta.put, served, export, import, handoff.put, handoff.get,
   * handoff.clear, count-by-owner. See docs/event-bus.md.
   */
  public static final String SESSION_PREFIX = "snakepit.session.";

  /**
   * Prefix under which node services answer the calls Python workers make with
   * {@code ctx.call(op)}: {@code snakepit.call.<op>}, e.g. {@code snakepit.call.session.get_var}.
   */
  public static final String NODE_CALL_PREFIX = "snakepit.call.";

  /**
   * Cluster-wide session operations, {@code snakepit.cluster.session.<op>}: the same as
   * {@link #SESSION_PREFIX} for applications in other JVMs of the cluster.
   */
  public static final String CLUSTER_SESSION_PREFIX = "snakepit.cluster.session.";

  /** Node-local: the supervisor's own execute, after routing. */
  public static final String SUPERVISOR_EXECUTE = "snakepit.supervisor.execute";

  /** Node-local: the supervisor's own stream open, after routing. */
  public static final String SUPERVISOR_STREAM_OPEN = "snakepit.supervisor.stream.open";

  /** Node-local: the supervisor's handoff of sessions' Python-side state before the node leaves. */
  public static final String SUPERVISOR_HANDOFF = "snakepit.supervisor.handoff";

  /** Publish, cluster-wide: each node's routing verticle announces itself here twice a second. */
  public static final String RING_HEARTBEAT = "snakepit.ring.heartbeat";

  /** Node-local request: the cluster as this node sees it ({@code GET /v1/cluster}). */
  public static final String CLUSTER_VIEW = "snakepit.cluster.view";

  /** Node-local request: the owner node of a session, {@code {"id"}} → {@code {"owner"}}. */
  public static final String SESSION_OWNER = "snakepit.cluster.owner";

  /** Node-local request: start draining this node (leave the ring, hand off state). */
  public static final String DRAIN = "snakepit.node.drain";

  /**
   * Node-local publish: register the node's cluster-wide consumers again, after the
   * clustered event bus lost them (see {@link ClusterSubscriptions}).
   */
  public static final String RESUBSCRIBE = "snakepit.node.resubscribe";

  /**
   * Node-local request: stop this node gracefully, as on SIGTERM (drain, let calls in
   * flight finish, stop the workers, leave the cluster). Replies at once; the stop follows.
   */
  public static final String STOP = "snakepit.node.stop";

  /**
   * Node-local request to the session-storage verticle about the re-encryption of stored sessions with the
   * active data key ({@code sessions.encryption}): {@code {"op": "start"}} starts it (answers its status,
   * {@code conflict} while one runs), {@code {"op": "status"}} answers its progress. {@code bad_request} when
   * session encryption is off.
   */
  public static final String DATA_KEY_ROTATION = "snakepit.sessions.data-keys.rotate";

  /**
   * Node-local request to the session-storage verticle about a live migration of its sessions to another store
   * (docs/migration.md): {@code {"op": "start", "to": adapter, "settings": {...}}}, {@code {"op": "status"}},
   * {@code "verify"}, {@code "repair"}, {@code "cutover"}, {@code "commit"}, {@code "rollback"}. Each answers the
   * migration's status; a step the phase does not allow fails with {@code conflict}, an unknown adapter or bad
   * settings with {@code bad_request} (listing the adapters found), and changes nothing.
   */
  public static final String MIGRATION = "snakepit.sessions.migration";

  /**
   * Node-local request to the node's dashboard feed (docs/dashboard.md): {@code {"op": "snapshot"}} answers
   * {@code {"figures", "events"}} (the cluster's figures now and the recent events), {@code {"op": "figures"}}
   * answers the figures alone. Figures are gathered from every node when asked, at most once per
   * {@link #DASHBOARD_FIGURES_MAX_AGE_MS}, so a node nobody watches gathers nothing.
   */
  public static final String DASHBOARD = "snakepit.dashboard";

  /** How old the dashboard's figures may be when they are asked again: askers within it share one gathering. */
  public static final long DASHBOARD_FIGURES_MAX_AGE_MS = 500;

  /**
   * Node-local publish: each event of {@link #EVENTS} the dashboard shows (nodes, workers crashed or recycled,
   * pools), as it arrives, once the dashboard feed has recorded it.
   */
  public static final String DASHBOARD_EVENTS = "snakepit.dashboard.events";

  /**
   * The cluster-wide address where node {@code nodeId} answers its own figures for the dashboard:
   * {@code {"node", "at", "workers": [...], "pools": [{..., "calls", "window_ms", "latency_buckets"}]}}.
   */
  public static String nodeFigures(String nodeId) {
    return node(nodeId, "figures");
  }

  /** The cluster-wide address of one node's router for {@code op} ({@code execute}, {@code stream.open}). */
  public static String node(String nodeId, String op) {
    return "snakepit.node." + nodeId + "." + op;
  }

  /**
   * The event-bus send timeout of a call: the longest call timeout a request may
   * set (a day) plus a minute, so that the call's own timeout always answers first.
   */
  public static final long CALL_SEND_TIMEOUT_MS = 86_400_000L + 60_000;

  /** Prefix of the per-stream control addresses. */
  public static final String STREAM_CONTROL_PREFIX = "snakepit.stream.control.";
}
