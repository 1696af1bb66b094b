package io.snakepit.tests.fuzz;

import io.snakepit.contract.ErrorCode;
import io.snakepit.tests.harness.Http;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;

/**
 * Turns a worker hostile: the {@code garble} tool of {@code fuzz_adapter.py} writes random frames onto
 * its own connection to the node (every type, lying lengths, broken JSON, ids of its own call and of
 * none). The call must end with a result or a typed error that blames the worker ({@code
 * protocol_error}, {@code worker_crashed}, or {@code timeout} when a lying length swallowed the rest),
 * and the pool must serve a normal call again within its restart time. The calls run in a pool of
 * their own ({@value #POOL}), so that a worker the node replaces does not fail another fuzzer's call.
 */
final class WorkerFrameFuzzer {

  static final String DOOR = "worker-frames";
  static final String POOL = "hostile";
  private static final long RECOVERY_MS = 60_000;

  private final RandomInput in;
  private final String baseUrl;

  WorkerFrameFuzzer(RandomInput in, String baseUrl) {
    this.in = in;
    this.baseUrl = baseUrl;
  }

  void once(Findings findings) throws InterruptedException {
    long seed = in.random().nextLong();
    int frames = 1 + in.below(12);
    JsonObject call = new JsonObject().put("tool", "garble").put("pool", POOL).put("timeout_ms", 5_000)
        .put("args", new JsonObject().put("seed", seed).put("frames", frames));
    findings.sent(DOOR);
    String sent = "garble seed=" + seed + " frames=" + frames;
    try {
      HttpResponse<String> r = Http.post(baseUrl + "/v1/execute", call.encode());
      if (r.statusCode() != 200) {
        JsonObject err = errorOf(r.body());
        String code = err == null ? null : err.getString("code");
        if (code == null || ErrorCode.fromCode(code) == ErrorCode.INTERNAL) {
          findings.add(new Finding(DOOR, sent, "HTTP " + r.statusCode() + " " + (code == null ? "untyped" : code)));
        }
      }
    } catch (java.io.IOException e) {
      findings.add(new Finding(DOOR, sent, "no answer: " + e.getClass().getSimpleName()));
    }
    if (!recovers()) {
      findings.add(new Finding(DOOR, sent, "the pool served no call for " + RECOVERY_MS / 1000 + " s afterwards"));
    }
  }

  /** Whether a normal call in the pool succeeds again before the deadline. */
  private boolean recovers() throws InterruptedException {
    long end = System.nanoTime() + RECOVERY_MS * 1_000_000;
    JsonObject echo = new JsonObject().put("tool", "echo").put("pool", POOL).put("args", new JsonObject().put("a", 1));
    while (System.nanoTime() < end) {
      try {
        if (Http.post(baseUrl + "/v1/execute", echo.encode()).statusCode() == 200) {
          return true;
        }
      } catch (java.io.IOException e) {
        // the node is checked for health apart; keep polling
      }
      Thread.sleep(50);
    }
    return false;
  }

  private static JsonObject errorOf(String body) {
    try {
      return new JsonObject(body).getJsonObject("error");
    } catch (RuntimeException e) {
      return null;
    }
  }
}
