package io.snakepit.contract;

/**
 * The session store's operations on the event bus, defined once: the store
 * serves each at {@link #address()} (node-local) and {@link #clusterAddress()}
 * (cluster-wide, for applications in other JVMs), and
 * {@code io.snakepit.session.SessionStoreClient} sends to them. Bodies and
 * replies are in docs/event-bus.md.
 */
public enum SessionOp {
  CREATE("create"),
  GET("get"),
  /** Only what a call needs to route: touches the session, answers last node, last worker and handoff. */
  ROUTE("route"),
  EXISTS("exists"),
  DELETE("delete"),
  LIST("list"),
  EXPORT("export"),
  IMPORT("import"),
  COUNT("count"),
  STATS("stats"),
  HEALTH("health"),
  VAR_GET("var.get"),
  VAR_PUT("var.put"),
  VAR_DELETE("var.delete"),
  /** Adds {@code by} (default 1) to a counter variable; answers {@code {"value"}}, the new total. */
  VAR_INCREMENT("var.increment"),
  VARS("vars"),
  PROGRAM_GET("program.get"),
  PROGRAM_PUT("program.put"),
  META_PUT("meta.put"),
  SERVED("served"),
  HANDOFF_PUT("handoff.put"),
  HANDOFF_GET("handoff.get"),
  HANDOFF_CLEAR("handoff.clear"),
  COUNT_BY_OWNER("count-by-owner");

  private final String wireName;
  private final String address;
  private final String clusterAddress;

  SessionOp(String wireName) {
    this.wireName = wireName;
    this.address = Addresses.SESSION_PREFIX + wireName;
    this.clusterAddress = Addresses.CLUSTER_SESSION_PREFIX + wireName;
  }

  /** The operation's name on the wire, e.g. {@code var.get}. */
  public String wireName() {
    return wireName;
  }

  /** The node-local address, {@code snakepit.session.<op>}. */
  public String address() {
    return address;
  }

  /** The cluster-wide address, {@code snakepit.cluster.session.<op>}. */
  public String clusterAddress() {
    return clusterAddress;
  }
}
