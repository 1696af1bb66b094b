package io.snakepit.app.cli;

import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code snakepit keys rotate-data}: starts the node's re-encryption of every stored session with the active data
 * key ({@code POST /v1/admin/data-keys/rotate}) and, with {@code --wait}, follows it to the end; {@code --status}
 * only shows the progress ({@code GET}).
 */
@Command(name = "rotate-data", mixinStandardHelpOptions = true,
    description = {"Re-seal every stored session with the active data key, in the background on the node "
        + "(sessions.encryption). New writes already use the active key; this moves the old ones to it, so that an "
        + "older key can then leave the key file.",
        "Prints the job's status; --wait follows it until it ends (exit code 1 if it failed or refused entries), "
            + "--status shows the progress of the last job without starting one."})
final class RotateDataKeysCommand extends NodeCommand {

  static final String PATH = "/v1/admin/data-keys/rotate";

  @Option(names = "--wait", description = "Wait until the job has ended, printing its progress to stderr.")
  boolean await;

  @Option(names = "--status", description = "Only show the progress of the node's last rotation.")
  boolean statusOnly;

  @Override
  int run(NodeClient node) throws NodeError, Unreachable, Failure {
    JsonObject status;
    if (statusOnly) {
      status = node.getJson(PATH);
    } else {
      HttpRequest req = node.request(PATH, true).POST(HttpRequest.BodyPublishers.noBody()).build();
      status = NodeClient.json(node.send(req, Set.of(202)));
    }
    while (await && "running".equals(status.getString("state"))) {
      err().println("rotation: " + progress(status));
      err().flush();
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new Failure(ExitCodes.NODE_ERROR, "interrupted while waiting for the rotation");
      }
      status = node.getJson(PATH);
    }
    if (json) {
      printJson(status);
    } else {
      out().println("rotation " + status.getString("state") + ": " + progress(status));
    }
    boolean bad = "failed".equals(status.getString("state")) || status.getLong("refused", 0L) > 0
        || status.getLong("failed", 0L) > 0;
    return await && bad ? ExitCodes.NODE_ERROR : ExitCodes.OK;
  }

  private static String progress(JsonObject s) {
    return s.getValue("scanned", 0) + "/" + s.getValue("total", "?") + " sessions scanned, "
        + s.getValue("resealed", 0) + " re-sealed, " + s.getValue("unchanged", 0) + " already on key "
        + s.getString("active_key", "?") + ", " + s.getValue("gone", 0) + " gone, " + s.getValue("refused", 0)
        + " refused, " + s.getValue("failed", 0) + " failed" + (s.containsKey("error") ? " (" + s.getString("error")
        + ")" : "");
  }
}
