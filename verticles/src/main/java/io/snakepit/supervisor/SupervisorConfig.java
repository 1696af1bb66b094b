package io.snakepit.supervisor;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Configuration of the process-supervision verticle: the node's identity,
 * where it keeps its worker registry, how workers reach it, and its pools.
 *
 * @param nodeId        this node's id, passed to workers and used to find leftovers of an earlier run
 * @param dataDir       directory of the worker registry (orphan cleanup); {@code null} turns the registry off
 * @param runDirBase    parent of the private run directory that holds the socket; {@code null} = java.io.tmpdir
 * @param transport     {@code auto} (Unix socket when the native transport is there, else TCP), {@code unix} or {@code tcp}
 * @param maxFrameBytes largest frame accepted from a worker
 * @param pools         pools by name, in configuration order
 * @param checkpointIntervalMs how often the sessions' Python-side state is exported to the store; 0 = never
 */
public record SupervisorConfig(String nodeId, String dataDir, String runDirBase, String transport,
                               int maxFrameBytes, Map<String, PoolConfig> pools, long checkpointIntervalMs) {

  /** Parses {@code {"node-id","data-dir","run-dir","transport","max-frame-bytes","pools":{name:{...}}}}. */
  public static SupervisorConfig fromJson(JsonObject json) {
    ConfigReader r = new ConfigReader(json, "");
    String nodeId = r.string("node-id", null);
    if (nodeId == null || !nodeId.matches("[A-Za-z0-9._:-]{1,64}")) {
      throw new ConfigException("node-id must be 1-64 characters of [A-Za-z0-9._:-], got " + nodeId);
    }
    String dataDir = r.string("data-dir", null);
    String runDir = r.string("run-dir", null);
    String transport = r.oneOf("transport", "auto", "auto", "unix", "tcp");
    int maxFrame = r.intValue("max-frame-bytes", 16 * 1024 * 1024, 1024, Integer.MAX_VALUE);
    JsonObject poolsJson = r.object("pools");
    long checkpointMs = r.longValue("checkpoint-interval-s", 0, 0, 86_400) * 1000;
    r.rejectUnknownKeys();
    Map<String, PoolConfig> pools = new LinkedHashMap<>();
    if (poolsJson.isEmpty()) {
      pools.put("default", PoolConfig.defaults("default"));
    }
    for (String name : poolsJson.fieldNames()) {
      Object p = poolsJson.getValue(name);
      if (p != null && !(p instanceof JsonObject)) {
        throw new ConfigException("pools." + name + " must be an object");
      }
      pools.put(name, PoolConfig.fromJson(name, (JsonObject) p));
    }
    return new SupervisorConfig(nodeId, dataDir, runDir, transport, maxFrame,
        java.util.Collections.unmodifiableMap(pools), checkpointMs);
  }
}
