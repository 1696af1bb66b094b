package io.snakepit.tests.harness;

import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A session write load over real HTTP that remembers what was acknowledged: one thread per node and session
 * group, each round incrementing the counter {@code n} of each of its sessions and setting its register
 * {@code r} to the round's number. A write that was not answered 200 counts as of unknown outcome (it may
 * have been applied). {@link #lost} then says which acknowledged writes a node does not show.
 */
public final class WriteLoad implements AutoCloseable {

  /** What one session was sent, as acknowledged or not. */
  private static final class Sent {
    final AtomicLong ackedIncrements = new AtomicLong();
    final AtomicLong unknownIncrements = new AtomicLong();
    volatile long lastAckedRegister = -1;
    volatile long lastTriedRegister = -1;
  }

  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private final Map<String, Sent> sent = new ConcurrentHashMap<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final AtomicLong acknowledged = new AtomicLong();
  private final List<Thread> threads = new ArrayList<>();

  /**
   * Starts one thread per entry: it writes to the sessions given, through the node at that base URL. The
   * sessions must exist; each must be written by one thread only.
   */
  public WriteLoad(Map<String, List<String>> sessionsByBaseUrl) {
    int k = 0;
    for (Map.Entry<String, List<String>> e : sessionsByBaseUrl.entrySet()) {
      e.getValue().forEach(s -> sent.put(s, new Sent()));
      Thread t = new Thread(() -> run(e.getKey(), e.getValue()), "write-load-" + k++);
      t.setDaemon(true);
      threads.add(t);
    }
    threads.forEach(Thread::start);
  }

  /** Acknowledged writes so far. */
  public long acknowledged() {
    return acknowledged.get();
  }

  private void run(String baseUrl, List<String> sessions) {
    for (long round = 0; running.get(); round++) {
      for (String s : sessions) {
        if (!running.get()) {
          return;
        }
        Sent w = sent.get(s);
        if (send(baseUrl + "/v1/sessions/" + s + "/variables/n/increment", "POST", "{\"by\":1}")) {
          w.ackedIncrements.incrementAndGet();
        } else {
          w.unknownIncrements.incrementAndGet();
        }
        w.lastTriedRegister = round;
        if (send(baseUrl + "/v1/sessions/" + s + "/variables/r", "PUT", "{\"value\":" + round + "}")) {
          w.lastAckedRegister = round;
        }
      }
    }
  }

  private boolean send(String url, String method, String body) {
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30))
          .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body))
          .build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 200) {
        acknowledged.incrementAndGet();
        return true;
      }
      return false;
    } catch (Exception e) {
      return false; // refused, reset or timed out: the outcome is unknown
    }
  }

  /** Stops the threads and waits for their last write to end. */
  @Override
  public void close() throws InterruptedException {
    running.set(false);
    for (Thread t : threads) {
      t.join(Duration.ofSeconds(60).toMillis());
    }
  }

  /**
   * The acknowledged writes the node at {@code baseUrl} does not show, one line each (empty when none is
   * lost): a counter must hold at least its acknowledged increments and at most those plus the unknown ones,
   * and a register its last acknowledged value or a later one that was tried. Call after {@link #close}.
   */
  public List<String> lost(String baseUrl) throws Exception {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Sent> e : new java.util.TreeMap<>(sent).entrySet()) {
      Sent w = e.getValue();
      HttpResponse<String> r = Http.get(baseUrl + "/v1/sessions/" + e.getKey() + "/variables");
      if (r.statusCode() != 200) {
        out.add(e.getKey() + ": answered " + r.statusCode() + " " + r.body());
        continue;
      }
      JsonObject vars = new JsonObject(r.body()).getJsonObject("variables", new JsonObject());
      long n = vars.getLong("n", 0L);
      long acked = w.ackedIncrements.get();
      if (n < acked || n > acked + w.unknownIncrements.get()) {
        out.add(e.getKey() + ": counter " + n + ", acknowledged " + acked + " (+" + w.unknownIncrements.get()
            + " unknown)");
      }
      long reg = vars.getValue("r") == null ? -1 : vars.getLong("r");
      if (w.lastAckedRegister >= 0 && (reg < w.lastAckedRegister || reg > w.lastTriedRegister)) {
        out.add(e.getKey() + ": register " + reg + ", last acknowledged " + w.lastAckedRegister + ", last tried "
            + w.lastTriedRegister);
      }
    }
    return out;
  }
}
