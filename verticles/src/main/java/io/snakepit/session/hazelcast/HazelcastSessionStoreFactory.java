package io.snakepit.session.hazelcast;

import com.hazelcast.config.AdvancedNetworkConfig;
import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.MergePolicyConfig;
import com.hazelcast.config.SerializationConfig;
import com.hazelcast.config.ServerSocketEndpointConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.SessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the {@code hazelcast} adapter: sessions in a Hazelcast {@code IMap},
 * replicated to synchronous backups, merged by hybrid logical clock after a
 * network partition heals ({@link HlcMergePolicy}).
 *
 * <h2>Which Hazelcast instance</h2>
 * <ol>
 *   <li>When Vert.x is clustered with the {@link HazelcastClusterManager}, its
 *       member: the sessions live in the same cluster as the event bus.</li>
 *   <li>Else, when {@code instance-name} is set, the running member of that name.</li>
 *   <li>Else an embedded member that this factory starts from the {@code embedded}
 *       section (for one node, and tests), and that the store shuts down on close.
 *       The store never shuts down an instance it did not start.</li>
 * </ol>
 *
 * <h2>Configuration, under {@code sessions.hazelcast}</h2>
 * <ul>
 *   <li>{@code map-name}: the map, default {@value #DEFAULT_MAP_NAME};</li>
 *   <li>{@code backup-count}: synchronous backups of each entry, default {@value #DEFAULT_BACKUP_COUNT}
 *       (0-6); a write is acknowledged once the backups have it, so it survives the loss of that many
 *       members;</li>
 *   <li>{@code instance-name}: use a running member of that name;</li>
 *   <li>{@code fencing}: the ownership lease ({@link FencingSettings}): {@code enabled} (true),
 *       {@code lease-ms} (2500; shorter than Hazelcast's failure detection), {@code rejoin-timeout-ms} (30000);</li>
 *   <li>{@code embedded}: {@code cluster-name} (default {@code snakepit}), {@code port} (5701),
 *       {@code port-auto-increment} (true), {@code members} (TCP-IP join, {@code "host:port"} list),
 *       {@code multicast} (false), {@code interface} (bind to this address), {@code lite-member} (false; true
 *       starts a Hazelcast lite member, which holds no partition: the sessions stay on the cluster it joins, for
 *       a node that writes to a cluster's map from outside it, as the source node of a migration to a cluster
 *       does, docs/migration.md, "Runbook: one node to three"; it needs data members to write to, and reports no
 *       expiry itself: a local entry listener fires on the members owning the partitions). The embedded member
 *       beats and detects failures as the nodes' own members do (config/cluster.xml: a heartbeat a second, a
 *       member silent 5 s suspected).</li>
 * </ul>
 *
 * <h2>What a node must do to its Hazelcast config before the member starts</h2>
 * Call {@link #configure(Config, JsonObject)} on the {@link Config} it gives the
 * {@link HazelcastClusterManager}. That registers {@link SessionDataSerializableFactory}
 * (required: entry processors, their outcome and the merge policy travel between
 * members as {@code IdentifiedDataSerializable}; it cannot be added to a running member,
 * and the store refuses to open without it), adds {@link #mapConfig} for the session map,
 * and sets the split-brain merge delays to the recommended values below (unless already set).
 * A map config that is missing is added dynamically when the store opens, which works
 * because it happens before the map is first used; a static one is better, as every member
 * then has it from the start.
 *
 * <h2>Tuning</h2>
 * After a partition heals, Hazelcast merges the smaller side into the larger only when its
 * split-brain handler next runs: {@code hazelcast.merge.first.run.delay.seconds} (default 300)
 * after start, then every {@code hazelcast.merge.next.run.delay.seconds} (default 120).
 * Replicas converge within that delay plus the merge itself; to meet "converged within 15 s"
 * set both to about 3 s ({@link #RECOMMENDED_MERGE_FIRST_RUN_DELAY_SECONDS},
 * {@link #RECOMMENDED_MERGE_NEXT_RUN_DELAY_SECONDS}). Shorter delays cost only a cheap
 * discovery message per interval.
 */
public final class HazelcastSessionStoreFactory implements SessionStoreFactory {

  private static final Logger LOG = LoggerFactory.getLogger(HazelcastSessionStoreFactory.class);

  public static final String NAME = "hazelcast";
  public static final String DEFAULT_MAP_NAME = "snakepit-sessions";
  public static final int DEFAULT_BACKUP_COUNT = 1;
  public static final String DEFAULT_CLUSTER_NAME = "snakepit";

  /** Hazelcast property: first split-brain merge check after start; Hazelcast's default is 300 s. */
  public static final String MERGE_FIRST_RUN_DELAY_PROPERTY = "hazelcast.merge.first.run.delay.seconds";
  /** Hazelcast property: interval of later split-brain merge checks; Hazelcast's default is 120 s. */
  public static final String MERGE_NEXT_RUN_DELAY_PROPERTY = "hazelcast.merge.next.run.delay.seconds";
  /**
   * Member attribute with the node id of the node a member belongs to. A node sets it on its member's
   * config; the store then places each session's calls on the node of its primary copy
   * ({@link PartitionPlacement}).
   */
  public static final String NODE_ATTRIBUTE = "snakepit.node";
  /** Hazelcast property: a member silent this long is dropped; the fencing lease must be shorter. */
  static final String MAX_NO_HEARTBEAT_PROPERTY = "hazelcast.max.no.heartbeat.seconds";
  /** Hazelcast property: how often a member sends its heartbeat; Hazelcast's default is 5 s. */
  static final String HEARTBEAT_INTERVAL_PROPERTY = "hazelcast.heartbeat.interval.seconds";
  /** An embedded member's heartbeat interval: config/cluster.xml's. */
  static final int EMBEDDED_HEARTBEAT_INTERVAL_S = 1;
  /** An embedded member's failure detection timeout: config/cluster.xml's. */
  static final int EMBEDDED_MAX_NO_HEARTBEAT_S = 5;
  /** Hazelcast's own default of {@value #MAX_NO_HEARTBEAT_PROPERTY}. */
  static final int DEFAULT_MAX_NO_HEARTBEAT_S = 60;
  /** Recommended value of {@value #MERGE_FIRST_RUN_DELAY_PROPERTY}. */
  public static final int RECOMMENDED_MERGE_FIRST_RUN_DELAY_SECONDS = 3;
  /** Recommended value of {@value #MERGE_NEXT_RUN_DELAY_PROPERTY}. */
  public static final int RECOMMENDED_MERGE_NEXT_RUN_DELAY_SECONDS = 3;

  @Override
  public String name() {
    return NAME;
  }

  /** The adapter's own settings, read from {@code sessions.hazelcast}. */
  record Options(String mapName, int backupCount, String instanceName, JsonObject embedded,
                 FencingSettings fencing) {

    static Options parse(JsonObject config) {
      ConfigReader r = new ConfigReader(config == null ? new JsonObject() : config, "sessions.hazelcast");
      String mapName = r.string("map-name", DEFAULT_MAP_NAME);
      int backups = r.intValue("backup-count", DEFAULT_BACKUP_COUNT, 0, 6);
      String instance = r.string("instance-name", null);
      JsonObject embedded = r.object("embedded");
      FencingSettings fencing = FencingSettings.parse(r.object("fencing"));
      r.rejectUnknownKeys();
      if (mapName.isBlank()) {
        throw new ConfigException("sessions.hazelcast.map-name must not be empty");
      }
      embeddedConfig(embedded); // checks it now, so that a mistake fails at start
      return new Options(mapName, backups, instance, embedded, fencing);
    }
  }

  @Override
  public void validate(JsonObject config, SessionSettings settings) {
    Options.parse(config);
  }

  @Override
  public Future<SessionStore> create(Vertx vertx, SessionSettings settings, JsonObject config) {
    Options options;
    try {
      options = Options.parse(config);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    HazelcastInstance clustered = clusterInstance(vertx);
    if (clustered != null) {
      return open(vertx, settings, options, clustered, false);
    }
    return vertx.executeBlocking(() -> {
      if (options.instanceName() != null) {
        HazelcastInstance named = Hazelcast.getHazelcastInstanceByName(options.instanceName());
        if (named == null) {
          throw new ConfigException("sessions.hazelcast.instance-name: no running Hazelcast member named \""
              + options.instanceName() + "\"");
        }
        return new Object[] {named, false};
      }
      Config c = embeddedConfig(options.embedded());
      configure(c, options.mapName(), options.backupCount());
      LOG.info("Starting an embedded Hazelcast member for sessions (cluster {})", c.getClusterName());
      return new Object[] {Hazelcast.newHazelcastInstance(c), true};
    }, false).compose(r -> open(vertx, settings, options, (HazelcastInstance) r[0], (Boolean) r[1]));
  }

  /**
   * Opens a store on a given member, which the store will not shut down. For
   * embedding applications that run Hazelcast themselves, and for tests.
   *
   * @param config the {@code sessions.hazelcast} section ({@code instance-name} and
   *               {@code embedded} are ignored)
   */
  public static Future<SessionStore> create(Vertx vertx, SessionSettings settings, JsonObject config,
                                            HazelcastInstance hz) {
    try {
      return open(vertx, settings, Options.parse(config), hz, false);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  private static Future<SessionStore> open(Vertx vertx, SessionSettings settings, Options options,
                                           HazelcastInstance hz, boolean owned) {
    return vertx.executeBlocking(() -> {
      try {
        checkSerialization(hz);
        ensureMapConfig(hz, options);
        options.fencing().checkAgainst(maxNoHeartbeatMs(hz));
        HazelcastSessionStore store = new HazelcastSessionStore(vertx, settings, hz, options.mapName(),
            options.backupCount(), owned, options.fencing());
        store.open();
        return (SessionStore) store;
      } catch (RuntimeException e) {
        if (owned) {
          hz.shutdown();
        }
        throw e;
      }
    }, false);
  }

  /** Hazelcast's failure detection timeout on this member ({@code hazelcast.max.no.heartbeat.seconds}). */
  static long maxNoHeartbeatMs(HazelcastInstance hz) {
    String v = hz.getConfig().getProperty(MAX_NO_HEARTBEAT_PROPERTY);
    try {
      return v == null ? DEFAULT_MAX_NO_HEARTBEAT_S * 1000L : Long.parseLong(v.trim()) * 1000L;
    } catch (NumberFormatException e) {
      return DEFAULT_MAX_NO_HEARTBEAT_S * 1000L;
    }
  }

  /**
   * Where sessions' primaries are, read through the Hazelcast member of a Vert.x clustered with the
   * {@link HazelcastClusterManager} (a node's, or an application's that joined the cluster); null when
   * {@code vertx} is not such a member. {@link io.snakepit.client.SnakepitClient} uses it to send a call
   * straight to the session's owner.
   */
  public static io.snakepit.routing.SessionPlacement placementOf(Vertx vertx) {
    HazelcastInstance hz = clusterInstance(vertx);
    return hz == null ? null : PartitionPlacement.of(hz);
  }

  /** The member of the Vert.x cluster manager, when Vert.x is clustered with Hazelcast; else null. */
  static HazelcastInstance clusterInstance(Vertx vertx) {
    if (vertx instanceof VertxInternal vi && vertx.isClustered()) {
      ClusterManager cm = vi.clusterManager();
      if (cm instanceof HazelcastClusterManager hcm) {
        return hcm.getHazelcastInstance();
      }
    }
    return null;
  }

  // ---- Hazelcast configuration -------------------------------------------------------------------

  /**
   * The session map's configuration: {@code backupCount} synchronous backups,
   * no asynchronous ones, BINARY in-memory format (values are compact JSON;
   * processors read them once per call), per-entry TTL set by each write (no
   * map-wide TTL or max-idle), and the {@link HlcMergePolicy}.
   */
  public static MapConfig mapConfig(String mapName, int backupCount) {
    MapConfig mc = new MapConfig(mapName);
    mc.setBackupCount(backupCount);
    mc.setAsyncBackupCount(0);
    mc.setInMemoryFormat(InMemoryFormat.BINARY);
    mc.setTimeToLiveSeconds(0);
    mc.setMaxIdleSeconds(0);
    mc.setStatisticsEnabled(true);
    mc.setMergePolicyConfig(new MergePolicyConfig(HlcMergePolicy.class.getName(),
        MergePolicyConfig.DEFAULT_BATCH_SIZE));
    return mc;
  }

  /** Registers {@link SessionDataSerializableFactory} (idempotent). */
  public static void addSerialization(Config config) {
    SerializationConfig sc = config.getSerializationConfig();
    if (!sc.getDataSerializableFactories().containsKey(SessionDataSerializableFactory.FACTORY_ID)
        && !sc.getDataSerializableFactoryClasses().containsKey(SessionDataSerializableFactory.FACTORY_ID)) {
      sc.addDataSerializableFactory(SessionDataSerializableFactory.FACTORY_ID, new SessionDataSerializableFactory());
    }
  }

  /**
   * Prepares a member's config for the session store, before the member
   * starts: the serialization factory, the session map (from the
   * {@code sessions.hazelcast} section: {@code map-name}, {@code backup-count})
   * and, unless set already, the recommended split-brain merge delays.
   *
   * @return {@code config}
   */
  public static Config configure(Config config, JsonObject sessionsHazelcast) {
    Options o = Options.parse(sessionsHazelcast);
    return configure(config, o.mapName(), o.backupCount());
  }

  static Config configure(Config config, String mapName, int backupCount) {
    addSerialization(config);
    config.addMapConfig(mapConfig(mapName, backupCount));
    if (config.getProperty(MERGE_FIRST_RUN_DELAY_PROPERTY) == null) {
      config.setProperty(MERGE_FIRST_RUN_DELAY_PROPERTY, String.valueOf(RECOMMENDED_MERGE_FIRST_RUN_DELAY_SECONDS));
    }
    if (config.getProperty(MERGE_NEXT_RUN_DELAY_PROPERTY) == null) {
      config.setProperty(MERGE_NEXT_RUN_DELAY_PROPERTY, String.valueOf(RECOMMENDED_MERGE_NEXT_RUN_DELAY_SECONDS));
    }
    return config;
  }

  private static void checkSerialization(HazelcastInstance hz) {
    SerializationConfig sc = hz.getConfig().getSerializationConfig();
    if (!sc.getDataSerializableFactories().containsKey(SessionDataSerializableFactory.FACTORY_ID)
        && !sc.getDataSerializableFactoryClasses().containsKey(SessionDataSerializableFactory.FACTORY_ID)) {
      throw new ConfigException("The Hazelcast member has no serialization factory for sessions: call "
          + "HazelcastSessionStoreFactory.configure(config, ...) on its Config before it starts (factory id "
          + SessionDataSerializableFactory.FACTORY_ID + ", " + SessionDataSerializableFactory.class.getName() + ")");
    }
  }

  private static void ensureMapConfig(HazelcastInstance hz, Options o) {
    MapConfig existing = hz.getConfig().getMapConfigOrNull(o.mapName());
    if (existing == null) {
      // Dynamic configuration: takes effect cluster-wide, provided the map has not been used yet.
      hz.getConfig().addMapConfig(mapConfig(o.mapName(), o.backupCount()));
      return;
    }
    if (!HlcMergePolicy.class.getName().equals(existing.getMergePolicyConfig().getPolicy())) {
      LOG.warn("Session map {} has merge policy {}, not {}: after a partition heals, concurrent writes of one side "
          + "will be lost", o.mapName(), existing.getMergePolicyConfig().getPolicy(), HlcMergePolicy.class.getName());
    }
    if (existing.getBackupCount() != o.backupCount()) {
      LOG.warn("Session map {} is configured with {} backups; sessions.hazelcast.backup-count {} is ignored",
          o.mapName(), existing.getBackupCount(), o.backupCount());
    }
  }

  /**
   * Puts a member on Hazelcast's advanced network with a member endpoint
   * only, and returns its join configuration. A member on the default
   * (unified) network that connects to a peer which accepts the TCP
   * connection but never answers, such as a member frozen by {@code SIGSTOP}
   * or a stalled VM, spins one of its IO threads at full CPU until that
   * connection closes, and the other connections served by that thread miss
   * their heartbeats, so the surviving members split from one another
   * (hazelcast/hazelcast#26473; the unified encoder answers "clean" while
   * frames wait for the peer's protocol reply). The member endpoint's
   * encoder waits instead. Every member this project starts uses it; a member
   * of yours on the unified network speaks the same member protocol, but that
   * mix is not tested here.
   *
   * @param c             the member's configuration
   * @param port          the member port
   * @param autoIncrement whether the next ports are tried when it is taken
   * @param iface         the only interface to bind and advertise, or null
   * @param publicAddress the address other members reach it at ({@code host:port}), or null
   */
  public static JoinConfig memberNetwork(Config c, int port, boolean autoIncrement, String iface,
                                         String publicAddress) {
    ServerSocketEndpointConfig member = new ServerSocketEndpointConfig();
    member.setPort(port).setPortAutoIncrement(autoIncrement);
    if (publicAddress != null) {
      member.setPublicAddress(publicAddress);
    }
    if (iface != null) {
      member.getInterfaces().setEnabled(true).addInterface(iface);
    }
    AdvancedNetworkConfig network = c.getAdvancedNetworkConfig().setEnabled(true).setMemberEndpointConfig(member);
    network.getJoin().getMulticastConfig().setEnabled(false);
    return network.getJoin();
  }

  /** A member config from the {@code embedded} section: TCP-IP join (or multicast), loopback-friendly. */
  static Config embeddedConfig(JsonObject embedded) {
    ConfigReader r = new ConfigReader(embedded == null ? new JsonObject() : embedded, "sessions.hazelcast.embedded");
    String clusterName = r.string("cluster-name", DEFAULT_CLUSTER_NAME);
    int port = r.intValue("port", 5701, 1, 65535);
    boolean autoIncrement = r.bool("port-auto-increment", true);
    JsonArray members = r.array("members");
    boolean multicast = r.bool("multicast", false);
    String iface = r.string("interface", null);
    boolean lite = r.bool("lite-member", false);
    r.rejectUnknownKeys();
    Config c = new Config();
    c.setClusterName(clusterName);
    c.setLiteMember(lite);
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    // The failure detection of the nodes' own members (config/cluster.xml): an embedded member that joins their
    // cluster (a single node migrating into it) must beat as often as they expect, or at Hazelcast's default of
    // one beat in 5 s against their 5 s timeout it is dropped from the cluster whenever a beat is a little late.
    c.setProperty(HEARTBEAT_INTERVAL_PROPERTY, Integer.toString(EMBEDDED_HEARTBEAT_INTERVAL_S));
    c.setProperty(MAX_NO_HEARTBEAT_PROPERTY, Integer.toString(EMBEDDED_MAX_NO_HEARTBEAT_S));
    JoinConfig join = memberNetwork(c, port, autoIncrement, iface, null);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getMulticastConfig().setEnabled(multicast);
    join.getTcpIpConfig().setEnabled(!multicast);
    for (int i = 0; i < members.size(); i++) {
      Object m = members.getValue(i);
      if (!(m instanceof String s) || s.isBlank()) {
        throw new ConfigException("sessions.hazelcast.embedded.members[" + i + "] must be \"host[:port]\", got " + m);
      }
      join.getTcpIpConfig().addMember(s);
    }
    return c;
  }
}
