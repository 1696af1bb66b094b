package io.snakepit.examples.join;

import io.snakepit.client.Call;
import io.snakepit.client.ExecuteResult;
import io.snakepit.client.SnakepitClient;
import io.snakepit.embed.JoinOptions;
import io.snakepit.embed.JoinedCluster;
import io.snakepit.embed.SnakepitCluster;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * An application that joins a running Snakepit cluster (docs/embedding.md) and runs a tool in a session on the
 * node that owns it, through {@link SnakepitClient}.
 *
 * <p>Run: {@code java -cp <the app's class path> io.snakepit.examples.join.JoinClusterExample HOST:PORT[,...]
 * [CLUSTER_NAME]}, where HOST:PORT are nodes' {@code cluster-port}s (5701 by default). Prints one line with the
 * tool's answer and exits 0; {@code EmbeddingExamplesTest} runs it against nodes started by the test harness.
 */
public final class JoinClusterExample {

  private JoinClusterExample() {
  }

  public static void main(String[] args) {
    if (args.length < 1) {
      System.err.println("usage: JoinClusterExample HOST:PORT[,HOST:PORT...] [CLUSTER_NAME]");
      System.exit(2);
    }
    JoinOptions options = new JoinOptions()
        .setMembers(List.of(args[0].split(",")))
        .setClusterName(args.length > 1 ? args[1] : "snakepit")
        .setHost("127.0.0.1");                 // an address of this machine that the nodes reach
    int status = 1;
    JoinedCluster cluster = null;
    try {
      // A main thread may wait with await(); code on an event loop composes the futures instead.
      cluster = SnakepitCluster.join(options).await();
      SnakepitClient client = cluster.client();
      String session = "example-" + Long.toHexString(System.nanoTime());
      client.createSession(session, 60, null).await();
      ExecuteResult r = client.execute(new Call("echo").session(session)
          .args(new JsonObject().put("greeting", "hello from a joined application"))).await();
      System.out.println("echo answered " + r.result() + " on node " + r.node() + " in session " + session);
      client.deleteSession(session).await();
      status = 0;
    } catch (RuntimeException e) {
      System.err.println("join example failed: " + e);
    } finally {
      if (cluster != null) {
        cluster.close().await();               // leaves the cluster
      }
    }
    System.exit(status);
  }
}
