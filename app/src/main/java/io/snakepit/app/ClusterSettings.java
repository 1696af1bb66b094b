package io.snakepit.app;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * How a node joins a cluster (top-level keys, so that the environment
 * variables read naturally: {@code SNAKEPIT_CLUSTER_MEMBERS}, ...).
 *
 * @param enabled     {@code cluster}: join a cluster through Hazelcast and the clustered event bus
 * @param name        {@code cluster-name}: nodes of different names never join
 * @param host        {@code cluster-host}: the address Hazelcast and the event bus bind and advertise
 * @param port        {@code cluster-port}: Hazelcast's port (5701)
 * @param members     {@code cluster-members}: HOST:PORT of other members to join through (TCP-IP)
 * @param dns         {@code cluster-dns}: a DNS name that resolves to every member's address, such as a
 *                    Kubernetes headless service, to join through instead of {@code members}; empty = none
 * @param busPort     {@code bus-port}: the clustered event bus's port; 0 = any free port
 * @param partitionMode {@code partition-mode}: {@code available} (both sides of a partition serve)
 *                    or {@code majority} (the minority side refuses session writes and calls in sessions)
 * @param expectedSize {@code cluster-size}: the cluster's full size, for {@code majority}; 0 = the largest seen
 * @param busTls      {@code cluster-tls-cert}, {@code cluster-tls-key}, {@code cluster-tls-ca}: the event bus's
 *                    certificate, key and the CA every member's certificate must be signed by (mutual TLS
 *                    between nodes); null = the bus in clear
 */
public record ClusterSettings(boolean enabled, String name, String host, int port, List<String> members,
                              String dns, int busPort, String partitionMode, int expectedSize, BusTls busTls) {

  /**
   * The clustered event bus's TLS files: all three set, or none. A member whose certificate is not
   * signed by {@code ca} cannot connect to this node's bus, nor this node to its.
   */
  public record BusTls(java.nio.file.Path cert, java.nio.file.Path key, java.nio.file.Path ca) {

    /** Reads and checks the files (blocking); a problem names the setting. */
    public io.snakepit.app.tls.PemCredentials read() {
      return io.snakepit.app.tls.PemCredentials.read(cert, "cluster-tls-cert", key, "cluster-tls-key",
          ca, "cluster-tls-ca");
    }
  }

  /**
   * {@code host} as an IP address, which Hazelcast needs: it binds and matches its interface by address, and a
   * name (Compose's service name {@code n1}, say) stopped the member with "No matching network interface found".
   * The event bus advertises the same address. A name is resolved here, once, at the start: this blocks.
   *
   * @throws ConfigException when the name does not resolve
   */
  public String hostAddress() {
    try {
      return java.net.InetAddress.getByName(host).getHostAddress();
    } catch (java.net.UnknownHostException e) {
      throw new ConfigException("cluster-host \"" + host + "\" does not resolve to an address (" + e.getMessage()
          + "): set it to this node's address, or to a name that resolves to it");
    }
  }

  /**
   * The cluster keys of a configuration object ({@code cluster}, {@code cluster-name}, {@code cluster-members},
   * ...), validated as a node validates them; other keys are left alone. Reads the bus's TLS files (blocking).
   *
   * @throws ConfigException naming the key that is wrong
   */
  public static ClusterSettings fromJson(JsonObject json) {
    return from(new ConfigReader(json, ""));
  }

  static ClusterSettings from(ConfigReader r) {
    boolean enabled = r.bool("cluster", false);
    String name = r.string("cluster-name", "snakepit");
    String host = r.string("cluster-host", "127.0.0.1");
    int port = r.intValue("cluster-port", 5701, 1, 65535);
    List<String> members = new ArrayList<>();
    if (r.has("cluster-members")) {
      Object raw = rawMembers(r);
      if (raw instanceof String s) {
        for (String m : s.split(",")) {
          if (!m.isBlank()) {
            members.add(m.trim());
          }
        }
      } else if (raw instanceof JsonArray a) {
        a.forEach(m -> members.add(String.valueOf(m).trim()));
      }
    }
    for (String m : members) {
      if (!m.matches("[^:\\s]+(:\\d{1,5})?")) {
        throw new ConfigException("cluster-members must be HOST:PORT entries separated by commas, got \"" + m + "\"");
      }
    }
    String dns = r.string("cluster-dns", "").trim();
    if (!dns.isEmpty() && !dns.matches("[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?")) {
      throw new ConfigException("cluster-dns must be a DNS name such as snakepit-headless.default.svc.cluster.local, "
          + "got \"" + dns + "\"");
    }
    if (!dns.isEmpty() && !members.isEmpty()) {
      throw new ConfigException("cluster-members and cluster-dns are two ways to find the other members: "
          + "set one of them, not both");
    }
    int busPort = r.intValue("bus-port", 0, 0, 65535);
    String mode = r.oneOf("partition-mode", "available", "available", "majority");
    int size = r.intValue("cluster-size", 0, 0, 1000);
    return new ClusterSettings(enabled, name, host, port, List.copyOf(members), dns, busPort, mode, size,
        busTls(r));
  }

  /** {@code cluster-tls-*}: all three or none, the files readable and matching (checked here, before the start). */
  private static BusTls busTls(ConfigReader r) {
    String cert = r.string("cluster-tls-cert", "");
    String key = r.string("cluster-tls-key", "");
    String ca = r.string("cluster-tls-ca", "");
    int set = (cert.isBlank() ? 0 : 1) + (key.isBlank() ? 0 : 1) + (ca.isBlank() ? 0 : 1);
    if (set == 0) {
      return null;
    }
    if (set < 3) {
      throw new ConfigException("the event bus's TLS is mutual: set cluster-tls-cert, cluster-tls-key and "
          + "cluster-tls-ca together (missing: " + (cert.isBlank() ? "cluster-tls-cert " : "")
          + (key.isBlank() ? "cluster-tls-key " : "") + (ca.isBlank() ? "cluster-tls-ca" : "").trim() + ")");
    }
    BusTls tls = new BusTls(java.nio.file.Path.of(cert), java.nio.file.Path.of(key), java.nio.file.Path.of(ca));
    tls.read();
    return tls;
  }

  private static Object rawMembers(ConfigReader r) {
    try {
      return r.string("cluster-members", "");
    } catch (ConfigException e) {
      return r.array("cluster-members");
    }
  }

  JsonObject toJson() {
    return new JsonObject().put("enabled", enabled).put("name", name).put("host", host).put("port", port)
        .put("members", new JsonArray(new ArrayList<>(members))).put("dns", dns).put("bus-port", busPort)
        .put("partition-mode", partitionMode).put("cluster-size", expectedSize).put("bus-tls", busTls != null);
  }
}
