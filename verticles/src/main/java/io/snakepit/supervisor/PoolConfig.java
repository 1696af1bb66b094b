package io.snakepit.supervisor;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.snakepit.contract.ExecuteRequest;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One pool's configuration. Keys are documented in docs/configuration.md;
 * {@link #fromJson} validates them and names the key of any bad value.
 */
public record PoolConfig(
    String name,
    int size,
    String python,
    String adapter,
    Map<String, String> env,
    String workingDir,
    String pythonPath,
    int concurrency,
    int queueSize,
    long queueTimeoutMs,
    long callTimeoutMs,
    long cancelGraceMs,
    long heartbeatMs,
    long heartbeatTimeoutMs,
    long startTimeoutMs,
    long maxRequests,
    long maxRssBytes,
    long maxAgeMs,
    int restartMax,
    long restartWindowMs,
    long backoffMinMs,
    long backoffMaxMs,
    long drainTimeoutMs,
    long stopGraceMs,
    ExecuteRequest.Affinity affinity,
    boolean forkserver,
    List<String> preload,
    WorkerLimits limits) {

  /** The adapter every default pool runs: the built-in demo. */
  public static final String DEMO_ADAPTER = "snakepit_worker.demo:DemoAdapter";

  /** Default pool size: two workers per core. */
  public static int defaultSize() {
    return 2 * Runtime.getRuntime().availableProcessors();
  }

  /** A pool with every default, under the given name. */
  public static PoolConfig defaults(String name) {
    return fromJson(name, new JsonObject());
  }

  /** Parses and validates; throws {@link ConfigException} naming the key. */
  public static PoolConfig fromJson(String name, JsonObject json) {
    if (!name.matches("[A-Za-z0-9_-]{1,64}")) {
      throw new ConfigException("pool name \"" + name + "\" must be 1-64 characters of [A-Za-z0-9_-]");
    }
    ConfigReader r = new ConfigReader(json, "pools." + name);
    Map<String, String> env = new LinkedHashMap<>();
    JsonObject envJson = r.object("env");
    for (String k : envJson.fieldNames()) {
      Object v = envJson.getValue(k);
      if (!(v instanceof String || v instanceof Number || v instanceof Boolean)) {
        throw new ConfigException(r.key("env") + "." + k + " must be a string");
      }
      env.put(k, String.valueOf(v));
    }
    long day = 86_400_000L;
    PoolConfig c = new PoolConfig(
        name,
        r.intValue("size", defaultSize(), 1, 1024),
        r.string("python", System.getProperty("snakepit.python", "python3")),
        r.string("adapter", DEMO_ADAPTER),
        Map.copyOf(env),
        r.string("working-dir", null),
        r.string("python-path", null),
        r.intValue("concurrency", 1, 1, 1024),
        r.intValue("queue-size", 1024, 0, 1_000_000),
        r.longValue("queue-timeout-ms", 10_000, 1, day),
        r.longValue("call-timeout-ms", 30_000, 1, day),
        r.longValue("cancel-grace-ms", 2_000, 1, day),
        r.longValue("heartbeat-ms", 1_000, 10, day),
        r.longValue("heartbeat-timeout-ms", 10_000, 20, day),
        r.longValue("start-timeout-ms", 30_000, 100, day),
        r.longValue("max-requests", 0, 0, Long.MAX_VALUE),
        r.longValue("max-rss-mb", 0, 0, 1L << 30) * 1024 * 1024,
        r.longValue("max-age-s", 0, 0, 365L * 86_400) * 1000,
        r.intValue("restart-max", 10, 1, 1_000_000),
        r.longValue("restart-window-ms", 60_000, 1, day),
        r.longValue("backoff-min-ms", 100, 1, day),
        r.longValue("backoff-max-ms", 10_000, 1, day),
        r.longValue("drain-timeout-ms", 10_000, 0, day),
        r.longValue("stop-grace-ms", 3_000, 1, day),
        ExecuteRequest.Affinity.of(r.oneOf("affinity", "hint", "hint", "strict-queue", "strict-fail-fast")),
        r.bool("forkserver", true),
        preload(r),
        new WorkerLimits(
            r.longValue("max-memory-mb", 0, 0, 1L << 30),
            r.intValue("max-processes", 0, 0, 4_194_304),
            r.intValue("max-open-files", 0, 0, 1 << 30),
            r.longValue("max-cpu-s-per-call", 0, 0, 365L * 86_400) * 1000));
    r.rejectUnknownKeys();
    if (c.limits.memoryMb() > 0 && c.limits.memoryMb() < 64) {
      throw new ConfigException(r.key("max-memory-mb") + " must be 0 (off) or at least 64, got "
          + c.limits.memoryMb() + ": a Python worker needs that much address space to start");
    }
    if (c.limits.openFiles() > 0 && c.limits.openFiles() < 64) {
      throw new ConfigException(r.key("max-open-files") + " must be 0 (off) or at least 64, got "
          + c.limits.openFiles() + ": a worker keeps about 20 files open itself");
    }
    if (c.heartbeatTimeoutMs <= c.heartbeatMs) {
      throw new ConfigException(r.key("heartbeat-timeout-ms") + " must be greater than heartbeat-ms ("
          + c.heartbeatMs + "), got " + c.heartbeatTimeoutMs);
    }
    if (c.backoffMaxMs < c.backoffMinMs) {
      throw new ConfigException(r.key("backoff-max-ms") + " must be at least backoff-min-ms (" + c.backoffMinMs + ")");
    }
    if (!c.adapter.matches("[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_]*)?")) {
      throw new ConfigException(r.key("adapter") + " must look like module or module:Class, got \"" + c.adapter + "\"");
    }
    return c;
  }

  /** {@code preload}: module names the forkserver imports before it forks workers. */
  private static List<String> preload(ConfigReader r) {
    List<String> out = new ArrayList<>();
    for (Object m : r.array("preload")) {
      if (!(m instanceof String s) || !s.matches("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*")) {
        throw new ConfigException(r.key("preload") + " must be a list of module names (like numpy or "
            + "my_pkg.models), got " + (m instanceof String ? "\"" + m + "\"" : String.valueOf(m)));
      }
      out.add(s);
    }
    return List.copyOf(out);
  }
}
