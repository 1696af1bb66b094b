package io.snakepit.app.cli;

import io.snakepit.config.ConfigException;
import io.snakepit.session.sealing.DataKeyRing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code snakepit keys new-data-key --file FILE}: appends a fresh random data key to a data-key file (creating it
 * owner-only when absent), which makes it the active key of every node reading that file. Prints the new key's
 * id, never the key.
 */
@Command(name = "new-data-key", mixinStandardHelpOptions = true,
    description = {"Append a fresh random AES-256 data key to a data-key file (sessions.encryption.key-file); the "
        + "file is created, readable by its owner only, when it does not exist.",
        "The new key becomes the active one: nodes read the file again within seconds and seal new writes with it; "
            + "values sealed with older keys stay readable. Then run 'snakepit keys rotate-data' to re-seal them. "
            + "In a cluster, see docs/security.md, \"Session data encryption\", for the order of the steps."})
final class NewDataKeyCommand implements Callable<Integer> {

  @Option(names = "--file", required = true, paramLabel = "FILE", description = "The data-key file.")
  Path file;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    try {
      String existing = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
      if (!existing.isBlank()) {
        DataKeyRing.parse(existing, file.toString()); // refuse to append to a file the node could not read
      }
      String line = DataKeyRing.newKeyLine(System.currentTimeMillis());
      String text = (existing.isEmpty() || existing.endsWith("\n") ? "" : "\n") + line + "\n";
      if (!Files.exists(file)) {
        try {
          Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
          Files.createFile(file);
        }
      }
      Files.writeString(file, text, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
      String problem = DataKeyRing.permissionProblem(file);
      if (problem != null) {
        spec.commandLine().getErr().println("snakepit: warning: " + problem);
      }
      spec.commandLine().getOut().println("added data key " + line.substring(0, line.indexOf('='))
          + " to " + file + "; it is now the active key");
      spec.commandLine().getOut().flush();
      return ExitCodes.OK;
    } catch (ConfigException e) {
      spec.commandLine().getErr().println("snakepit: " + e.getMessage() + "; nothing was added");
      return ExitCodes.USAGE;
    } catch (IOException e) {
      spec.commandLine().getErr().println("snakepit: cannot write " + file + ": " + e);
      return ExitCodes.NODE_ERROR;
    } finally {
      spec.commandLine().getErr().flush();
    }
  }
}
