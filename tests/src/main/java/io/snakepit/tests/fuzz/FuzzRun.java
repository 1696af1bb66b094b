package io.snakepit.tests.fuzz;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.snakepit.tests.soak.NodeVitals;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One fuzz run: a real node (a clustered one, so that its event bus is reachable from another member)
 * with Python workers, and four fuzzers taking turns from one seed: HTTP, gRPC, the event bus and a
 * hostile worker. Between turns the run checks that the node stays healthy, and it samples the node's
 * heap after GC, threads and open files six times: their floors over the last third of the run may not
 * pass those over the first third (after the first sample, a warm-up) by more than
 * {@link NodeVitals#grewFrom} allows.
 */
public final class FuzzRun {

  /**
   * @param seed     replays the same inputs (the node's own timing aside)
   * @param duration how long the fuzzers take turns
   * @param out      where the node's log and the summary go
   * @param repo     the repository root: the sample adapters and the .proto are read from it
   */
  public record Options(long seed, Duration duration, Path out, Path repo) {
  }

  private static final int SAMPLES = 6;

  private final Options options;

  public FuzzRun(Options options) {
    this.options = options;
  }

  public Findings run() throws Exception {
    Files.createDirectories(options.out());
    Path config = options.out().resolve("fuzz-node.yaml");
    Files.writeString(config, config(options.repo().resolve("python-worker/tests/sample_adapters")));
    Findings findings = new Findings();
    try (Cluster cluster = new Cluster("--config", config.toString())) {
      cluster.start(1);
      NodeProcess node = cluster.node(0);
      try {
        Poll.until("the node is ready", Cluster.DEADLINE, () -> Http.get(node.baseUrl() + "/ready").statusCode() == 200);
        fuzz(cluster, node, findings);
      } finally {
        Files.write(options.out().resolve("node.log"), node.logText().getBytes(StandardCharsets.UTF_8));
      }
    }
    // getBytes, not writeString: a finding may quote hostile input with lone surrogates, which writeString refuses.
    Files.write(options.out().resolve("summary.txt"), findings.summary().getBytes(StandardCharsets.UTF_8));
    return findings;
  }

  private void fuzz(Cluster cluster, NodeProcess node, Findings findings) throws Exception {
    List<String> sessions = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      sessions.add(new JsonObject(Http.post(node.baseUrl() + "/v1/sessions", "{}").body()).getString("id"));
    }
    RandomInput in = new RandomInput(options.seed());
    JsonObject openApi = Http.getJson(node.baseUrl() + "/openapi.json");
    HttpFuzzer http = new HttpFuzzer(new RandomInput(options.seed() + 1), node.httpPort(), openApi, sessions);
    WorkerFrameFuzzer frames = new WorkerFrameFuzzer(new RandomInput(options.seed() + 4), node.baseUrl());
    Vertx member = cluster.joinAsApplication();
    try (GrpcFuzzer grpc = new GrpcFuzzer(new RandomInput(options.seed() + 2), node.grpcPort(),
        options.repo().resolve("app/src/main/proto/snakepit/v1/snakepit.proto"))) {
      EventBusFuzzer bus = new EventBusFuzzer(new RandomInput(options.seed() + 3), member, node.nodeId());
      List<NodeVitals> samples = new ArrayList<>();
      long start = System.nanoTime();
      long end = start + options.duration().toNanos();
      long every = options.duration().toNanos() / SAMPLES;
      long nextSample = start + every;
      while (System.nanoTime() < end) {
        int door = in.below(100);
        if (door < 50) {
          http.once(findings);
        } else if (door < 75) {
          grpc.once(findings);
        } else if (door < 97) {
          bus.once(findings);
        } else {
          frames.once(findings);
        }
        if (System.nanoTime() >= nextSample) {
          nextSample += every;
          healthy(node, findings);
          samples.add(NodeVitals.of(node.pid()));
        }
      }
      healthy(node, findings);
      samples.add(NodeVitals.of(node.pid()));
      vitals(samples, findings);
    } finally {
      member.close().toCompletionStage().toCompletableFuture().join();
    }
  }

  private static void healthy(NodeProcess node, Findings findings) {
    try {
      if (!node.process().isAlive()) {
        findings.add(new Finding("vitals", "-", "the node process ended"));
        return;
      }
      int ready = Http.get(node.baseUrl() + "/ready").statusCode();
      if (ready != 200) {
        findings.add(new Finding("vitals", "GET /ready", "not ready (HTTP " + ready + ")"));
      }
    } catch (Exception e) {
      findings.add(new Finding("vitals", "GET /ready", "no answer: " + e.getClass().getSimpleName()));
    }
  }

  private static void vitals(List<NodeVitals> samples, Findings findings) {
    List<NodeVitals> steady = samples.subList(Math.min(1, samples.size() - 1), samples.size());
    int k = Math.max(1, steady.size() / 3);
    NodeVitals first = NodeVitals.floor(steady.subList(0, k));
    NodeVitals last = NodeVitals.floor(steady.subList(steady.size() - k, steady.size()));
    System.out.println("node: " + last.changeFrom(first) + " (floors of the first and last third after warm-up)");
    if (last.grewFrom(first)) {
      findings.add(new Finding("vitals", samples.toString(), "grew: " + last.changeFrom(first)));
    }
  }

  /** Two pools of the fuzz adapter: one for the HTTP, gRPC and event-bus calls, one for the hostile worker. */
  private static String config(Path adapters) {
    return """
        sessions:
          limits:
            default-ttl-s: 20
            max-ttl-s: 60
        pools:
          default:
            adapter: fuzz_adapter:FuzzAdapter
            python-path: %1$s
            size: 2
          %2$s:
            adapter: fuzz_adapter:FuzzAdapter
            python-path: %1$s
            size: 1
            heartbeat-ms: 500
            heartbeat-timeout-ms: 3000
            restart-max: 100000
            backoff-max-ms: 200
        """.formatted(adapters, WorkerFrameFuzzer.POOL);
  }
}
