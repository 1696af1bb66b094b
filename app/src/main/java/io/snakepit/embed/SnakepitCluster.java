package io.snakepit.embed;

import io.snakepit.app.ClusterConfig;
import io.snakepit.app.ClusterSettings;
import io.snakepit.config.ConfigException;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Joins a running Snakepit cluster as an application: a clustered Vert.x whose Hazelcast member is a lite member
 * (it holds no sessions, so the nodes keep all the data and its leaving moves none), configured as the nodes are
 * (config/cluster.xml: failure detection, merge delays; the session map's serialization; Hazelcast's member
 * endpoint), with a {@link io.snakepit.client.SnakepitClient} on it.
 *
 * <pre>{@code
 * SnakepitCluster.join(new JoinOptions().addMember("10.0.0.5:5701").setHost("10.0.0.9"))
 *     .compose(cluster -> cluster.client().execute("echo", new JsonObject().put("x", 1))
 *         .eventually(cluster::close));
 * }</pre>
 *
 * See docs/embedding.md.
 */
public final class SnakepitCluster {

  private SnakepitCluster() {
  }

  /**
   * Starts the member and the clustered event bus, and completes once this application is in the cluster.
   * Refused with a {@link SnakepitException} of code {@code bad_request} (and nothing started) when the options
   * name no member and no DNS name, a member is not {@code HOST:PORT}, the bus's TLS files are not all three or
   * cannot be read, or the host does not resolve. The nodes' session data keys are never needed here: the
   * nodes seal and open session data, and this member holds none.
   */
  public static Future<JoinedCluster> join(JoinOptions options) {
    Objects.requireNonNull(options, "options");
    // Blocking preparation (certificate files, name resolution, a free port) on a thread of its own: there is no
    // Vert.x to lend one yet.
    CompletableFuture<Future<Vertx>> started = CompletableFuture.supplyAsync(() -> start(options),
        r -> new Thread(r, "snakepit-join").start());
    return Future.fromCompletionStage(started).compose(f -> f)
        .map(vertx -> new JoinedCluster(vertx, options.clientOptions()));
  }

  private static Future<Vertx> start(JoinOptions options) {
    try {
      ClusterSettings cluster = ClusterSettings.fromJson(options.toClusterJson());
      if (cluster.members().isEmpty() && cluster.dns().isEmpty()) {
        throw new ConfigException("name the nodes to join: JoinOptions.addMember(\"HOST:PORT\") with a node's "
            + "cluster-port, or setDns(name, port) as the nodes' cluster-dns");
      }
      if (cluster.name().isBlank()) {
        throw new ConfigException("the cluster name must be the nodes' cluster-name (default snakepit), not blank");
      }
      if (options.port() < 0 || options.port() > 65535) {
        throw new ConfigException("the port must be 0 (any free port) to 65535, got " + options.port());
      }
      String address = cluster.hostAddress();
      int port = options.port() == 0 ? freePort(address) : options.port();
      VertxOptions vx = new VertxOptions(options.vertxOptions());
      ClusterBus.configure(vx.getEventBusOptions(), address, cluster.busPort(), cluster.busTls());
      String instance = "snakepit-app-" + Long.toHexString(System.nanoTime());
      return Vertx.builder().with(vx)
          .withClusterManager(new HazelcastClusterManager(ClusterConfig.liteMember(cluster, instance, address, port)))
          .buildClustered();
    } catch (ConfigException e) {
      return Future.failedFuture(new SnakepitException(ErrorCode.BAD_REQUEST, "JoinOptions refused: "
          + e.getMessage() + " (see docs/embedding.md, \"Join a running cluster\")"));
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  /** A port free on {@code address} now; the member binds it a moment later (as a node's 0 ports do). */
  private static int freePort(String address) {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(InetAddress.getByName(address), 0));
      return s.getLocalPort();
    } catch (IOException e) {
      throw new ConfigException("no free port on " + address + " for this application's member ("
          + e.getMessage() + "): set JoinOptions.setHost to an address of this machine");
    }
  }
}
