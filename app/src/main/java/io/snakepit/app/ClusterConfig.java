package io.snakepit.app;

import com.hazelcast.config.Config;
import com.hazelcast.config.SplitBrainProtectionConfig;
import com.hazelcast.splitbrainprotection.SplitBrainProtectionOn;
import com.hazelcast.config.XmlConfigBuilder;
import io.snakepit.config.ConfigException;
import io.snakepit.session.hazelcast.HazelcastSessionStoreFactory;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the Hazelcast configuration of a member of a Snakepit cluster from config/cluster.xml: a node's
 * ({@link #hazelcast(NodeConfig, String)}), or an application's lite member that joins the nodes
 * ({@link #liteMember}, what {@code io.snakepit.embed.SnakepitCluster} starts). Both share cluster.xml's failure
 * detection and merge delays, so that the nodes and the application agree on when a member is gone.
 */
public final class ClusterConfig {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterConfig.class);

  private static final String MAJORITY = "snakepit-majority";

  private ClusterConfig() {
  }

  static Config hazelcast(NodeConfig node) {
    return hazelcast(node, node.cluster().hostAddress());
  }

  /**
   * A node's configuration, with {@code address} ({@code cluster-host} resolved once by the caller, who gives the
   * event bus the same) as the member's interface and public address. Blocking: resolves member names.
   */
  public static Config hazelcast(NodeConfig node, String address) {
    ClusterSettings c = node.cluster();
    Config hz = fromClusterXml(c.name(), "snakepit-" + node.nodeId());
    // Names the node each member belongs to: a session's calls go to the node of its primary copy.
    hz.getMemberAttributeConfig().setAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE, node.nodeId());
    network(hz, c, c.port(), address);
    // The session store's map, merge policy and serialization factory must be in place before the member starts.
    Object sessions = node.sessions().getJsonObject("sessions", new JsonObject()).getValue("hazelcast");
    JsonObject hzSessions = sessions instanceof JsonObject o ? o : new JsonObject();
    HazelcastSessionStoreFactory.configure(hz, hzSessions);
    if ("majority".equals(c.partitionMode())) {
      // The minority side of a partition refuses session writes (Hazelcast's split-brain protection).
      if (c.expectedSize() < 1) {
        throw new ConfigException("partition-mode: majority needs cluster-size, the cluster's full size, to know "
            + "what a majority is");
      }
      int quorum = c.expectedSize() / 2 + 1;
      hz.addSplitBrainProtectionConfig(new SplitBrainProtectionConfig(MAJORITY, true, quorum)
          .setProtectOn(SplitBrainProtectionOn.WRITE));
      hz.getMapConfig(hzSessions.getString("map-name", "snakepit-sessions")).setSplitBrainProtectionName(MAJORITY);
    }
    return hz;
  }

  /**
   * An application's member: a Hazelcast lite member (it holds no partition, so sessions stay on the nodes and
   * its leaving moves no data) named {@code instanceName}, on {@code address:port}, joining through
   * {@code cluster}'s members or DNS name. The session map's serialization is registered too: every member,
   * lite ones included, must know it. Blocking: resolves member names.
   */
  public static Config liteMember(ClusterSettings cluster, String instanceName, String address, int port) {
    Config hz = fromClusterXml(cluster.name(), instanceName);
    hz.setLiteMember(true);
    network(hz, cluster, port, address);
    HazelcastSessionStoreFactory.configure(hz, new JsonObject());
    return hz;
  }

  /** cluster.xml with the cluster's and the instance's names. */
  private static Config fromClusterXml(String clusterName, String instanceName) {
    Config hz;
    try (InputStream in = ClusterConfig.class.getResourceAsStream("/cluster.xml")) {
      if (in == null) {
        throw new ConfigException("cluster.xml is missing from the node's classpath");
      }
      hz = new XmlConfigBuilder(in).build();
    } catch (IOException e) {
      throw new ConfigException("cannot read cluster.xml: " + e.getMessage());
    }
    hz.setClusterName(clusterName);
    hz.setInstanceName(instanceName);
    return hz;
  }

  /** The member endpoint on {@code address:port} and how it finds the others: TCP-IP members, or DNS. */
  private static void network(Config hz, ClusterSettings c, int port, String address) {
    // A member endpoint on Hazelcast's advanced network: a frozen peer must not spin an IO thread (see there).
    var join = HazelcastSessionStoreFactory.memberNetwork(hz, port, false, address, address + ":" + port);
    // Bind the configured address only, so that nodes in separate network namespaces each keep to theirs.
    hz.setProperty("hazelcast.socket.bind.any", "false");
    if (c.dns().isEmpty()) {
      var tcp = join.getTcpIpConfig().setEnabled(true);
      for (String m : c.members()) {
        memberAddresses(m).forEach(tcp::addMember);
      }
    } else {
      // Hazelcast's Kubernetes discovery in DNS-lookup mode: every address the name resolves to (a headless
      // service's pods) is a member candidate on the cluster port. It needs no access to the Kubernetes API.
      join.getTcpIpConfig().setEnabled(false);
      join.getKubernetesConfig().setEnabled(true)
          .setProperty("service-dns", c.dns())
          .setProperty("service-port", String.valueOf(c.port()));
    }
  }

  /**
   * A {@code cluster-members} entry as Hazelcast's TCP-IP join needs it: a name is resolved to its addresses here,
   * at the start (blocking). Given names, Hazelcast 5.3 with the member's interface set never joined them: three
   * Compose nodes listing {@code n1:5701,n2:5701,n3:5701} formed three clusters of one, while the same list as
   * addresses formed one. A name that does not resolve yet (a peer not started) is kept as it is, and logged.
   */
  static List<String> memberAddresses(String member) {
    int colon = member.lastIndexOf(':');
    String host = colon < 0 ? member : member.substring(0, colon);
    String port = colon < 0 ? "" : member.substring(colon);
    try {
      List<String> out = new ArrayList<>();
      for (InetAddress a : InetAddress.getAllByName(host)) {
        String ip = a.getHostAddress();
        out.add((a instanceof Inet6Address ? "[" + ip + "]" : ip) + port);
      }
      return out;
    } catch (UnknownHostException e) {
      LOG.warn("cluster-members: {} does not resolve now ({}); it is kept as a name, which Hazelcast may not join "
          + "through. Give members as addresses, or join through cluster-dns", member, e.getMessage());
      return List.of(member);
    }
  }
}
