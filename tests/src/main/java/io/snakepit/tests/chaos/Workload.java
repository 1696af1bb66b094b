package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.HttpCalls.Request;
import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.Op.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntSupplier;

/**
 * The clients of a chaos run: threads that each send one operation at a
 * time, to a node chosen at random, and record it in the history. What each
 * client does is drawn from its own random generator, seeded from the run's
 * seed, so a seed replays the same choices (the faults' timing still varies).
 *
 * <p>Registers are shared: every client writes the variables {@code r0..r2}
 * of the shared sessions, each write with a value no other write uses, so a
 * final value names its write. Counters are not: each client increments a
 * counter of its own ({@code incr} is a read-modify-write through Python, and
 * two concurrent ones may legitimately both read 12 and write 13), and after
 * an increment whose outcome is unknown (it may still be running) it moves to
 * a new counter. Each client also has a counter variable ({@code tally},
 * {@code ctx.session.incr}), exact across partitions in both modes; in
 * available mode, where a read-modify-write counter loses the other side's
 * increments by design (docs/cluster.md), clients use only that one. Each client keeps Python-side state in a session of its own
 * ({@code remember}, then {@code recall}), creates and deletes sessions of
 * its own, and sends {@code hold} and streamed calls to the shared sessions.
 */
final class Workload {

  /** The shared sessions' ids. */
  static String shared(int i) {
    return "chaos-" + i;
  }

  /** The session where client {@code c} keeps Python-side state. */
  static String python(int c) {
    return "py-" + c;
  }

  /** Whether {@code session} is one where a client keeps Python-side state. */
  static boolean keepsPythonState(String session) {
    return session.startsWith("py-");
  }

  static final int REGISTERS = 3;
  static final int STREAM_ITEMS = 5;

  private final History history;
  private final ChaosCluster cluster;
  private final int clients;
  private final int sharedSessions;
  private final long seed;
  private final HttpCalls http;
  /** Whether the cluster runs in available mode: counters are then only counter variables. */
  private final boolean availableMode;
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean stop;

  Workload(History history, ChaosCluster cluster, int clients, int sharedSessions, long seed, Duration opTimeout,
           boolean availableMode) {
    this.availableMode = availableMode;
    this.history = history;
    this.cluster = cluster;
    this.clients = clients;
    this.sharedSessions = sharedSessions;
    this.seed = seed;
    this.http = new HttpCalls(opTimeout);
  }

  /** The sessions every client uses; created (and acknowledged) before the clients start. */
  List<String> fixedSessions() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < sharedSessions; i++) {
      ids.add(shared(i));
    }
    for (int c = 0; c < clients; c++) {
      ids.add(python(c));
    }
    return ids;
  }

  /** Creates a session before the run, through node {@code i}; the run cannot start without it. */
  Op create(String session, int node) {
    return call("setup", Fn.CREATE, session, "", null, node,
        new Request("POST", "/v1/sessions", "{\"id\":\"" + session + "\"}"), HttpCalls::plain);
  }

  void start() {
    for (int c = 0; c < clients; c++) {
      int id = c;
      Thread t = new Thread(() -> runClient(id), "chaos-client-" + c);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
  }

  /** Stops the clients and waits for each one's last operation to end. */
  void stop(Duration wait) throws InterruptedException {
    stop = true;
    for (Thread t : threads) {
      t.join(wait.toMillis());
    }
  }

  private void runClient(int c) {
    Random random = new Random(seed * 1_000_003L + c);
    String me = "c" + c;
    IntSupplier anyNode = () -> random.nextInt(cluster.size());
    long seq = 0;
    int counterGeneration = 0;
    List<String> mine = new ArrayList<>();
    while (!stop) {
      seq++;
      int draw = random.nextInt(100);
      String s = shared(random.nextInt(sharedSessions));
      int node = anyNode.getAsInt();
      Op op;
      if (draw < 28) {
        String r = "r" + random.nextInt(REGISTERS);
        long value = (c + 1) * 1_000_000_000L + seq;
        op = call(me, Fn.WRITE, s, r, value, node, new Request("PUT", "/v1/sessions/" + s + "/variables/" + r,
            "{\"value\":" + value + "}"), HttpCalls::plain);
      } else if (draw < 40) {
        String r = "r" + random.nextInt(REGISTERS);
        op = call(me, Fn.READ, s, r, null, node, new Request("GET", "/v1/sessions/" + s + "/variables/" + r, null),
            HttpCalls::variable);
        if ("not_found_in_session".equals(op.code())) {
          op = op.read(null); // a register not written yet: the read returned "none"
        }
      } else if (draw < 58) {
        String home = shared(c % sharedSessions);
        if (availableMode || random.nextBoolean()) {
          // A counter variable: an increment whose outcome is unknown only adds, so one counter serves the run.
          String counter = "tk" + c;
          op = call(me, Fn.TALLY, home, counter, null, node, execute(home, "tally", "{\"name\":\"" + counter
              + "\"}"), HttpCalls::toolResult);
        } else {
          String counter = "k" + c + "-" + counterGeneration;
          op = call(me, Fn.INCR, home, counter, null, node, execute(home, "incr", "{\"name\":\"" + counter
              + "\"}"), HttpCalls::toolResult);
          if (op.outcome() == Outcome.UNKNOWN) {
            counterGeneration++; // the increment may still run: this client's next ones use a new counter
          }
        }
      } else if (draw < 68) {
        String py = python(c);
        op = call(me, Fn.REMEMBER, py, "", seq, node, stateful(py, "remember", "{\"value\":" + seq + "}"),
            HttpCalls::ranOn);
        history.add(op);
        op = call(me, Fn.RECALL, py, "", null, anyNode.getAsInt(), stateful(py, "recall", "{}"), HttpCalls::recall);
      } else if (draw < 76) {
        if (mine.isEmpty() || random.nextBoolean()) {
          String t = "t" + c + "-" + seq;
          mine.add(t);
          op = call(me, Fn.CREATE, t, "", null, node, new Request("POST", "/v1/sessions", "{\"id\":\"" + t + "\"}"),
              HttpCalls::plain);
        } else {
          String t = mine.remove(random.nextInt(mine.size()));
          op = call(me, Fn.DELETE, t, "", null, node, new Request("DELETE", "/v1/sessions/" + t, null),
              HttpCalls::plain);
        }
      } else if (draw < 84) {
        op = call(me, Fn.STREAM, s, "count", null, node, new Request("POST", "/v1/sessions/" + s
            + "/execute/stream", "{\"tool\":\"count\",\"args\":{\"n\":" + STREAM_ITEMS + "},\"timeout_ms\":"
            + CALL_TIMEOUT_MS + "}"),
            HttpCalls.stream(STREAM_ITEMS));
      } else {
        op = call(me, Fn.HOLD, s, "", null, node, execute(s, "hold", "{\"ms\":20}"), HttpCalls::hold);
      }
      history.add(op);
      if (op.outcome() == Outcome.FAIL && op.status() == 0) {
        pace(); // the node is down: a real client backs off rather than spin on refused connections
      }
    }
  }

  private static void pace() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A call's own timeout: a client that waits far longer than this has met a stalled call. */
  static final int CALL_TIMEOUT_MS = 10_000;

  static Request execute(String session, String tool, String args) {
    return new Request("POST", "/v1/sessions/" + session + "/execute", "{\"tool\":\"" + tool + "\",\"args\":"
        + args + ",\"timeout_ms\":" + CALL_TIMEOUT_MS + "}");
  }

  /**
   * A call that uses the session's Python-side state: with {@code strict-queue} affinity, the mode that keeps
   * it (docs/sessions.md; with the default {@code hint}, a call whose worker is busy runs on another worker,
   * which does not have it).
   */
  static Request stateful(String session, String tool, String args) {
    return new Request("POST", "/v1/sessions/" + session + "/execute", "{\"tool\":\"" + tool + "\",\"args\":"
        + args + ",\"timeout_ms\":" + CALL_TIMEOUT_MS + ",\"affinity\":\"strict-queue\"}");
  }

  Op call(String client, Fn fn, String session, String key, Object value, int node, Request request,
          HttpCalls.ResultReader reader) {
    return http.send(client, fn, session, key, value, ChaosCluster.label(node), cluster.url(node), request, reader);
  }
}
