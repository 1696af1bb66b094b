package io.snakepit.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code snakepit} command line. */
@Command(name = "snakepit", mixinStandardHelpOptions = true, version = "snakepit 0.1.0",
    description = "Pools of long-lived Python workers for Vert.x.",
    subcommands = {RunCommand.class})
public final class Main implements Runnable {

  public static void main(String[] args) {
    int code = new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
    if (code != 0 || args.length == 0 || !"run".equals(args[0])) {
      System.exit(code);
    }
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
