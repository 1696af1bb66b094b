package io.snakepit.app.cli;

import io.snakepit.app.security.KeysFile;
import io.snakepit.app.security.Role;
import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code snakepit keys}: API keys ({@code add}, {@code list}, {@code remove}: the keys file, edited where it lives;
 * the node reloads it when it changes. A key is printed once, when it is made; the file keeps only its SHA-256)
 * and session data keys ({@code new-data-key}, {@code rotate-data}). See docs/security.md.
 */
@Command(name = "keys", mixinStandardHelpOptions = true,
    description = "Manage API keys (a keys file, security.api-keys-file; running nodes reload it) and the keys "
        + "that encrypt session data (sessions.encryption.key-file).",
    subcommands = {KeysCommand.Add.class, KeysCommand.ListKeys.class, KeysCommand.Remove.class,
        NewDataKeyCommand.class, RotateDataKeysCommand.class})
public final class KeysCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getErr().println("snakepit keys: name a subcommand");
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }

  /** What every keys subcommand shares: the file, and turning failures into exit codes. */
  abstract static class FileCommand implements Callable<Integer> {
    @Option(names = "--file", required = true, paramLabel = "FILE", description = "The keys file.")
    Path file;

    @Spec
    CommandSpec spec;

    abstract int run(JsonObject doc) throws IOException;

    @Override
    public final Integer call() {
      try {
        return run(KeysFile.read(file));
      } catch (ConfigException | io.vertx.core.json.DecodeException e) {
        return fail("the keys file " + file + " is not usable: " + e.getMessage());
      } catch (IOException e) {
        return fail("cannot use the keys file " + file + ": " + e);
      }
    }

    int fail(String message) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("snakepit: " + message);
      err.flush();
      return ExitCodes.USAGE;
    }

    static JsonArray keys(JsonObject doc) {
      return doc.getJsonArray("keys");
    }

    static int indexOf(JsonObject doc, String name) {
      JsonArray keys = keys(doc);
      for (int i = 0; i < keys.size(); i++) {
        if (name.equals(keys.getJsonObject(i).getString("name"))) {
          return i;
        }
      }
      return -1;
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Create a key, add it to the file, and print it (once: the file keeps only its hash).")
  static final class Add extends FileCommand {
    @Parameters(index = "0", paramLabel = "NAME", description = "Who the key is for; names it in the audit log.")
    String name;

    @Option(names = "--role", required = true, paramLabel = "ROLE",
        description = "caller, reader, operator or admin (docs/security.md).")
    String role;

    @Option(names = "--pools", split = ",", paramLabel = "POOL", description = "Only these pools (default: all).")
    List<String> pools = List.of();

    @Option(names = "--tools", split = ",", paramLabel = "TOOL", description = "Only these tools (default: all).")
    List<String> tools = List.of();

    @Override
    int run(JsonObject doc) throws IOException {
      Role r = Role.parse(role);
      if (r == null) {
        return fail("--role must be caller, reader, operator or admin, got '" + role + "'");
      }
      if (name.isBlank()) {
        return fail("NAME must not be empty");
      }
      if (indexOf(doc, name) >= 0) {
        return fail("the keys file " + file + " has a key named '" + name + "' already; remove it first "
            + "(snakepit keys remove " + name + " --file " + file + ")");
      }
      String key = KeysFile.newKey();
      keys(doc).add(KeysFile.entry(name, r, key, new LinkedHashSet<>(pools), new LinkedHashSet<>(tools)));
      KeysFile.write(file, doc);
      PrintWriter out = spec.commandLine().getOut();
      out.println(key);
      out.flush();
      PrintWriter err = spec.commandLine().getErr();
      err.println("snakepit: added key '" + name + "' (" + r.wireName() + ") to " + file
          + "; it is shown once, above: keep it now.");
      err.flush();
      return ExitCodes.OK;
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List the keys' names, roles and scopes.")
  static final class ListKeys extends FileCommand {
    @Option(names = "--json", description = "Print JSON for machines instead of a table.")
    boolean json;

    @Override
    int run(JsonObject doc) {
      PrintWriter out = spec.commandLine().getOut();
      JsonArray shown = new JsonArray();
      for (Object o : keys(doc)) {
        JsonObject k = ((JsonObject) o).copy();
        k.remove("sha256");
        shown.add(k);
      }
      if (json) {
        out.println(new JsonObject().put("keys", shown).encode());
      } else {
        Table t = new Table("NAME", "ROLE", "POOLS", "TOOLS", "CREATED");
        for (Object o : shown) {
          JsonObject k = (JsonObject) o;
          t.row(k.getString("name"), k.getString("role"), scope(k.getJsonArray("pools")),
              scope(k.getJsonArray("tools")), k.getString("created_at", "-"));
        }
        t.print(out, true);
      }
      out.flush();
      return ExitCodes.OK;
    }

    private static String scope(JsonArray a) {
      return a == null || a.isEmpty() ? "all" : String.join(",", a.stream().map(String::valueOf).toList());
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Remove a key; running nodes refuse it once they have reloaded the file.")
  static final class Remove extends FileCommand {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Override
    int run(JsonObject doc) throws IOException {
      int i = indexOf(doc, name);
      if (i < 0) {
        return fail("the keys file " + file + " has no key named '" + name + "'");
      }
      keys(doc).remove(i);
      KeysFile.write(file, doc);
      spec.commandLine().getErr().println("snakepit: removed key '" + name + "' from " + file);
      spec.commandLine().getErr().flush();
      return ExitCodes.OK;
    }
  }
}
