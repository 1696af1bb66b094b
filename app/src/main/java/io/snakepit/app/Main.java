package io.snakepit.app;

import io.snakepit.app.cli.HealthCommand;
import io.snakepit.app.cli.KeysCommand;
import io.snakepit.app.cli.MigrateCommand;
import io.snakepit.app.cli.PoolsCommand;
import io.snakepit.app.cli.SessionsCommand;
import io.snakepit.app.cli.WorkersCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code snakepit} command line. */
@Command(name = "snakepit", mixinStandardHelpOptions = true, version = "snakepit 0.1.0",
    description = "Pools of long-lived Python workers for Vert.x.",
    subcommands = {RunCommand.class, SessionsCommand.class, WorkersCommand.class, PoolsCommand.class, HealthCommand.class,
        KeysCommand.class, MigrateCommand.class},
    footer = {"", "Admin commands talk to a running node over HTTP (--url, env SNAKEPIT_URL).",
        "Exit codes: 0 ok, 1 the node answered an error, 2 usage error, 3 cannot reach the node,",
        "4 partial failure (import), 5 not healthy or not ready (health). See docs/operations.md."})
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
