package io.snakepit.embed;

import io.snakepit.client.ClientOptions;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How an application joins a running Snakepit cluster ({@link SnakepitCluster#join}): where the nodes' Hazelcast
 * members are, the cluster's name, the address this application's member and event bus bind and advertise, and
 * the event bus's TLS when the nodes have {@code cluster-tls-*}. The names follow the nodes' keys
 * (docs/cluster.md), and are checked by the same rules when {@link SnakepitCluster#join} runs.
 *
 * <pre>{@code
 * new JoinOptions().setMembers(List.of("10.0.0.5:5701", "10.0.0.6:5701")).setHost("10.0.0.9")
 * }</pre>
 */
public final class JoinOptions {

  private final List<String> members = new ArrayList<>();
  private String dns;
  private int clusterPort = 5701;
  private String clusterName = "snakepit";
  private String host = "127.0.0.1";
  private int port;
  private int busPort;
  private Path busTlsCert;
  private Path busTlsKey;
  private Path busTlsCa;
  private VertxOptions vertxOptions = new VertxOptions();
  private ClientOptions clientOptions = new ClientOptions();

  /** The nodes' Hazelcast members to join through, as {@code HOST:PORT} (the nodes' {@code cluster-port}). */
  public JoinOptions setMembers(List<String> members) {
    this.members.clear();
    this.members.addAll(Objects.requireNonNull(members, "members"));
    return this;
  }

  /** Adds one member to join through, {@code HOST:PORT}. */
  public JoinOptions addMember(String member) {
    members.add(Objects.requireNonNull(member, "member"));
    return this;
  }

  /**
   * Instead of members, a DNS name that resolves to every node's address (a Kubernetes headless service), each
   * listening on {@code clusterPort}: the nodes' {@code cluster-dns}.
   */
  public JoinOptions setDns(String dns, int clusterPort) {
    this.dns = dns;
    this.clusterPort = clusterPort;
    return this;
  }

  /** The nodes' {@code cluster-name} (default {@code snakepit}): members of other names never join. */
  public JoinOptions setClusterName(String clusterName) {
    this.clusterName = clusterName;
    return this;
  }

  /**
   * The address of this application's member and event bus (default 127.0.0.1): the nodes connect back to it,
   * so it must be one they reach. A name is resolved once, when {@link SnakepitCluster#join} runs.
   */
  public JoinOptions setHost(String host) {
    this.host = host;
    return this;
  }

  /** This application's Hazelcast port; 0 (default) picks a free one. */
  public JoinOptions setPort(int port) {
    this.port = port;
    return this;
  }

  /** This application's event-bus port; 0 (default) picks a free one. */
  public JoinOptions setBusPort(int busPort) {
    this.busPort = busPort;
    return this;
  }

  /**
   * The event bus's mutual TLS, required when the nodes set {@code cluster-tls-*}: a PEM certificate and key
   * signed by the nodes' {@code cluster-tls-ca}, and that CA. All three, or none.
   */
  public JoinOptions setBusTls(Path cert, Path key, Path ca) {
    this.busTlsCert = cert;
    this.busTlsKey = key;
    this.busTlsCa = ca;
    return this;
  }

  /**
   * The Vert.x options to start from (event loops, metrics, ...); the join sets the event bus's host, port,
   * public host and, with {@link #setBusTls}, its TLS over them. Default: Vert.x's defaults.
   */
  public JoinOptions setVertxOptions(VertxOptions vertxOptions) {
    this.vertxOptions = Objects.requireNonNull(vertxOptions, "vertxOptions");
    return this;
  }

  /** The options of {@link JoinedCluster#client()}. */
  public JoinOptions setClientOptions(ClientOptions clientOptions) {
    this.clientOptions = Objects.requireNonNull(clientOptions, "clientOptions");
    return this;
  }

  int port() {
    return port;
  }

  String host() {
    return host;
  }

  VertxOptions vertxOptions() {
    return vertxOptions;
  }

  ClientOptions clientOptions() {
    return clientOptions;
  }

  /** The same keys a node's configuration has, so that the node's own rules check them. */
  JsonObject toClusterJson() {
    JsonObject json = new JsonObject().put("cluster", true).put("cluster-name", clusterName).put("cluster-host", host)
        .put("cluster-port", clusterPort).put("bus-port", busPort)
        .put("cluster-members", new JsonArray(new ArrayList<>(members)));
    if (dns != null) {
      json.put("cluster-dns", dns);
    }
    putIfSet(json, "cluster-tls-cert", busTlsCert);
    putIfSet(json, "cluster-tls-key", busTlsKey);
    putIfSet(json, "cluster-tls-ca", busTlsCa);
    return json;
  }

  private static void putIfSet(JsonObject json, String key, Path value) {
    if (value != null) {
      json.put(key, value.toString());
    }
  }
}
