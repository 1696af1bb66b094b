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
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A session write load over real HTTP that remembers what was acknowledged: threads that each go round sessions of
 * their own through one node, incrementing each session's counter {@code n} and setting its register {@code r} to
 * the next number of that session's sequence. A write not answered 200 counts as of unknown outcome (it may have
 * been applied). {@link #lost} then lists the acknowledged writes a node does not show.
 */
public final class WriteLoad implements AutoCloseable {

  /** What one session was sent, acknowledged or not. */
  private static final class Sent {
    final AtomicLong ackedIncrements = new AtomicLong();
    final AtomicLong unknownIncrements = new AtomicLong();
    volatile long lastAckedRegister = -1;
    volatile long lastTriedRegister = -1;
  }

  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();

  private final Map<String, Sent> sent = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final AtomicLong acknowledged = new AtomicLong();
  private final List<Thread> threads = new ArrayList<>();

  private WriteLoad(List<Map.Entry<String, List<String>>> writers) {
    for (Map.Entry<String, List<String>> w : writers) {
      w.getValue().forEach(s -> sent.put(s, new Sent()));
      Thread t = new Thread(() -> run(w.getKey(), w.getValue()), "write-load-" + threads.size());
      t.setDaemon(true);
      threads.add(t);
    }
    threads.forEach(Thread::start);
  }

  /**
   * One thread per node: each writes the sessions given through the node at that base URL. The sessions must
   * exist, and each be given once.
   */
  public static WriteLoad across(Map<String, List<String>> sessionsByBaseUrl) {
    return new WriteLoad(new ArrayList<>(sessionsByBaseUrl.entrySet()));
  }

  /** {@code threads} threads writing through one node, the sessions dealt out among them. */
  public static WriteLoad through(String baseUrl, List<String> sessions, int threads) {
    List<Map.Entry<String, List<String>>> writers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      List<String> mine = new ArrayList<>();
      for (int i = t; i < sessions.size(); i += threads) {
        mine.add(sessions.get(i));
      }
      writers.add(Map.entry(baseUrl, mine));
    }
    return new WriteLoad(writers);
  }

  /** Acknowledged writes so far. */
  public long acknowledged() {
    return acknowledged.get();
  }

  /** Waits until {@code n} more writes have been acknowledged. */
  public void awaitProgress(long n, Duration deadline) throws Exception {
    long target = acknowledged.get() + n;
    Poll.until(n + " more acknowledged writes (not acknowledged so far: " + failures + ")", deadline,
        () -> acknowledged.get() >= target);
  }

  /** How many writes were sent and acknowledged, and why the others were not. */
  public String summary() {
    long unknown = sent.values().stream().mapToLong(w -> w.unknownIncrements.get()).sum();
    return acknowledged.get() + " writes acknowledged over " + sent.size() + " sessions, " + unknown
        + " increments of unknown outcome; not acknowledged: " + failures;
  }

  private void run(String baseUrl, List<String> sessions) {
    Map<String, Long> next = new java.util.HashMap<>();
    while (running.get()) {
      for (String s : sessions) {
        if (!running.get()) {
          return;
        }
        Sent w = sent.get(s);
        String vars = baseUrl + "/v1/sessions/" + s + "/variables/";
        if (send(vars + "n/increment", "POST", "{}")) {
          w.ackedIncrements.incrementAndGet();
        } else {
          w.unknownIncrements.incrementAndGet();
        }
        long v = next.merge(s, 1L, Long::sum);
        w.lastTriedRegister = v;
        if (send(vars + "r", "PUT", "{\"value\":" + v + "}")) {
          w.lastAckedRegister = v;
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
      failures.computeIfAbsent(method + " " + r.statusCode() + " " + errorCode(r.body()), k -> new AtomicLong())
          .incrementAndGet();
    } catch (Exception e) {
      // Refused, reset or timed out: the outcome is unknown.
      failures.computeIfAbsent(method + " " + e.getClass().getSimpleName(), k -> new AtomicLong()).incrementAndGet();
    }
    return false;
  }

  private static String errorCode(String body) {
    try {
      return new JsonObject(body).getJsonObject("error").getString("code");
    } catch (RuntimeException e) {
      return "?";
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
   * The acknowledged writes the node at {@code baseUrl} does not show, one line each (empty when none is lost):
   * a counter must hold at least its acknowledged increments and at most those plus the unknown ones, and a
   * register its last acknowledged value or a later one that was tried. Call after {@link #close}.
   */
  public List<String> lost(String baseUrl) throws Exception {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Sent> e : new TreeMap<>(sent).entrySet()) {
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
      if (reg < w.lastAckedRegister || reg > w.lastTriedRegister) {
        out.add(e.getKey() + ": register " + reg + ", last acknowledged " + w.lastAckedRegister + ", last tried "
            + w.lastTriedRegister);
      }
    }
    return out;
  }
}
