package io.snakepit.app.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code snakepit keys ...}: the node's keys. Each subcommand is a class of its own. */
@Command(name = "keys", mixinStandardHelpOptions = true, description = "Manage the node's keys.",
    subcommands = {RotateDataKeysCommand.class, NewDataKeyCommand.class})
public final class KeysCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getErr().println("snakepit keys: name a subcommand");
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }
}
