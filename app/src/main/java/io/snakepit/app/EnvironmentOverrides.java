package io.snakepit.app;

import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Applies configuration overrides written as environment variables or
 * {@code --set} flags. An environment variable names a key path:
 * {@code SNAKEPIT_} + the path in upper case, with {@code __} between levels
 * and {@code _} for {@code -}: {@code SNAKEPIT_POOLS__DEFAULT__MAX_RSS_MB=512}
 * sets {@code pools.default.max-rss-mb}. Values are read as YAML scalars, so
 * {@code 512} is a number and {@code true} a boolean.
 */
final class EnvironmentOverrides {

  static final String PREFIX = "SNAKEPIT_";

  /** Variables of the launcher, the CLI and the worker protocol: not configuration keys. */
  private static final Set<String> NOT_KEYS = Set.of("CONFIG", "LOG_FORMAT", "LOG_LEVEL", "JAVA_OPTS", "URL",
      "POOL_SIZE", "ADAPTER", "HOME", "ENDPOINT", "TOKEN", "TOKEN_FILE", "WORKER_ID", "PARENT_PID", "CONCURRENCY",
      "MAX_FRAME_BYTES", "TEST_PYTHON", "CA_CERT", "CLIENT_CERT", "CLIENT_KEY");

  private EnvironmentOverrides() {
  }

  /** Applies every {@code SNAKEPIT_*} variable of {@code env}, in name order. */
  static void applyEnvironment(JsonObject config, Map<String, String> env) {
    for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(PREFIX) || NOT_KEYS.contains(name.substring(PREFIX.length()))) {
        continue;
      }
      String[] parts = name.substring(PREFIX.length()).split("__");
      StringBuilder path = new StringBuilder();
      for (String p : parts) {
        if (p.isEmpty()) {
          throw new ConfigException("environment variable " + name + " has an empty level in its name");
        }
        path.append(path.length() == 0 ? "" : ".").append(p.toLowerCase().replace('_', '-'));
      }
      set(config, path.toString(), e.getValue(), "environment variable " + name);
    }
  }

  /** Applies one {@code KEY=VALUE} of {@code --set}. */
  static void applySet(JsonObject config, String assignment) {
    int eq = assignment.indexOf('=');
    if (eq <= 0) {
      throw new ConfigException("--set takes KEY=VALUE, e.g. --set pools.default.size=4; got \"" + assignment + "\"");
    }
    set(config, assignment.substring(0, eq).trim(), assignment.substring(eq + 1), "--set " + assignment);
  }

  private static void set(JsonObject config, String path, String raw, String source) {
    String[] keys = path.split("\\.");
    JsonObject at = config;
    for (int i = 0; i < keys.length - 1; i++) {
      Object next = at.getValue(keys[i]);
      if (next == null) {
        JsonObject created = new JsonObject();
        at.put(keys[i], created);
        at = created;
      } else if (next instanceof JsonObject o) {
        at = o;
      } else {
        throw new ConfigException(source + " sets " + path + ", but " + keys[i] + " is not an object");
      }
    }
    at.put(keys[keys.length - 1], scalar(raw));
  }

  private static Object scalar(String raw) {
    if (raw.isEmpty()) {
      return raw;
    }
    Object v = new Yaml(new SafeConstructor(new LoaderOptions())).load(raw);
    return v instanceof String || v instanceof Number || v instanceof Boolean ? v : raw;
  }
}
