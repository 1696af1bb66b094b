package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A session's owner frozen ({@code SIGSTOP}) past the failure detector, then
 * woken while writes for its sessions reach it and, at the same time, the
 * node that took its sessions over: no acknowledged write may be lost.
 *
 * <p>Two kinds of writes, each recorded with its invoke and complete times:
 * counters, incremented by the demo's {@code incr} tool (a read-modify-write
 * through {@code ctx.session}, routed to the session's owner), and registers,
 * session variables written directly with {@code PUT .../variables/r}, with a
 * value unique to each write so that the final value names its write. Each
 * client waits for one answer before it sends its next write, alternating
 * between the frozen node and the survivors. Two register clients share each
 * session's register; each counter client has a counter of its own in the
 * session, because two concurrent read-modify-writes of one variable may
 * legitimately lose an update ({@code ctx.session} is not atomic across
 * calls), while one client's increments follow one another. A write is
 * acknowledged by a 200; an error (such as a typed 503: {@code not_owner},
 * {@code shutting_down}, {@code owner_unavailable}, {@code minority_partition})
 * is a write that failed, and a timeout one whose outcome is unknown: both
 * may or may not have taken effect (a client stops after an unknown outcome,
 * whose write may still be running). What the cluster promises, checked once
 * every node answers the same values:
 *
 * <ul>
 *   <li>an increment acknowledged after another one of its counter was
 *       acknowledged returned a larger value (two increments both answered
 *       13: one of them was lost);
 *   <li>a counter ends at least at the value its last acknowledged increment
 *       returned and at its number of acknowledged increments, and at most
 *       at its number of attempted ones;
 *   <li>a register does not end with the value of an acknowledged write that
 *       completed before another acknowledged write to it began (that later
 *       write would be lost).
 * </ul>
 *
 * <p>All nodes share this machine's wall clock, so a write acknowledged
 * before another is sent has the smaller hybrid logical clock stamp. Nothing
 * here asserts how long anything takes.
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class OwnerFreezeTest {

  static final Duration DEADLINE = Duration.ofSeconds(90);
  /** Sessions owned by the node that is frozen. */
  static final int SESSIONS = 20;
  /** How long the clients keep writing once the frozen node is woken. */
  static final Duration WRITING_AFTER_WAKE = Duration.ofSeconds(12);
  /** A write not answered within this is recorded as unknown. */
  static final Duration OP_TIMEOUT = Duration.ofSeconds(20);

  /** The history's own client, so that a write's timeout is the test's and connections are not shared. */
  static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();

  enum Kind { INCR, REGISTER }

  enum Outcome { OK, FAILED, UNKNOWN }

  /**
   * One write of the history. {@code value}: the register's value written, or
   * the counter's value an acknowledged increment returned (0 otherwise).
   */
  record Op(String client, String session, String variable, Kind kind, long value, String target, long invoke,
            long complete, Outcome outcome, String detail) {

    boolean ok() {
      return outcome == Outcome.OK;
    }
  }

  /** The cluster under test, the frozen node and the moment it was woken, to print a history. */
  static final class Run {
    final List<NodeProcess> nodes;
    final NodeProcess frozen;
    final ConcurrentLinkedQueue<Op> history = new ConcurrentLinkedQueue<>();
    volatile long wokenAt;

    Run(List<NodeProcess> nodes, NodeProcess frozen) {
      this.nodes = nodes;
      this.frozen = frozen;
    }

    String name(String nodeId) {
      return nodeId + (frozen.nodeId().equals(nodeId) ? "(frozen)" : "");
    }

    String ms(long nanos) {
      return String.format("%+8.1f ms", (nanos - wokenAt) / 1e6);
    }

    String describe(Op op) {
      String what = op.kind == Kind.INCR
          ? "incr " + op.variable + (op.ok() ? " -> " + op.value : "")
          : "put  " + op.variable + "=" + op.value;
      return String.format("  [%s .. %s] %-9s %-26s via %-24s %s%s", ms(op.invoke), op.outcome == Outcome.UNKNOWN
          ? "   unknown " : ms(op.complete), op.client, what, name(op.target), op.outcome,
          op.detail == null ? "" : " " + op.detail);
    }
  }

  /**
   * One client: writes of one kind to one variable of one session, one at a
   * time, alternating between the frozen node and the survivors (in turn),
   * starting with {@code startOnFrozen}'s choice, until {@code stopAt} or an
   * outcome it cannot know.
   */
  static final class Client extends Thread {
    final Run run;
    final String id;
    final String session;
    final String variable;
    final Kind kind;
    final boolean startOnFrozen;
    final List<NodeProcess> survivors;
    final long base;
    final AtomicBoolean stop;
    volatile long stopAt = Long.MAX_VALUE;

    Client(Run run, int index, String session, Kind kind, boolean startOnFrozen, List<NodeProcess> survivors,
           AtomicBoolean stop) {
      super("client-" + index);
      this.run = run;
      this.id = (kind == Kind.INCR ? "inc" : "reg") + index;
      this.session = session;
      this.variable = kind == Kind.INCR ? "c" + index : "r";
      this.kind = kind;
      this.startOnFrozen = startOnFrozen;
      this.survivors = survivors;
      this.base = (index + 1) * 1_000_000L;
      this.stop = stop;
      setDaemon(true);
    }

    @Override
    public void run() {
      int seq = 0;
      int survivorTurn = index(session);
      while (!stop.get() && System.nanoTime() < stopAt) {
        seq++;
        boolean toFrozen = startOnFrozen == (seq % 2 == 1);
        NodeProcess target = toFrozen ? run.frozen : survivors.get(survivorTurn++ % survivors.size());
        Op op = write(run, id, target, session, variable, kind, base + seq);
        run.history.add(op);
        if (op.outcome == Outcome.UNKNOWN) {
          break;
        }
      }
    }
  }

  static int index(String s) {
    return s.hashCode() & 0x7fffffff;
  }

  /** Sends one write and records it. */
  static Op write(Run run, String client, NodeProcess target, String session, String variable, Kind kind,
                  long value) {
    HttpRequest.Builder b = HttpRequest.newBuilder().timeout(OP_TIMEOUT).header("Content-Type", "application/json");
    String base = target.baseUrl() + "/v1/sessions/" + session;
    HttpRequest request = kind == Kind.INCR
        ? b.uri(URI.create(base + "/execute"))
            .POST(HttpRequest.BodyPublishers.ofString("{\"tool\":\"incr\",\"args\":{\"name\":\"" + variable
                + "\"}}")).build()
        : b.uri(URI.create(base + "/variables/" + variable))
            .PUT(HttpRequest.BodyPublishers.ofString("{\"value\":" + value + "}")).build();
    long invoke = System.nanoTime();
    try {
      HttpResponse<String> r = CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
      long complete = System.nanoTime();
      if (r.statusCode() == 200) {
        if (kind == Kind.INCR) {
          JsonObject body = new JsonObject(r.body());
          return new Op(client, session, variable, kind, body.getLong("result"), target.nodeId(), invoke, complete,
              Outcome.OK, "(ran on " + run.name(body.getString("node")) + ")");
        }
        return new Op(client, session, variable, kind, value, target.nodeId(), invoke, complete, Outcome.OK, null);
      }
      String code = errorCode(r.body());
      return new Op(client, session, variable, kind, kind == Kind.INCR ? 0 : value, target.nodeId(), invoke, complete,
          Outcome.FAILED, r.statusCode() + " " + (code != null ? code : "(" + abbreviate(r.body()) + ")"));
    } catch (IOException | RuntimeException e) {
      return new Op(client, session, variable, kind, kind == Kind.INCR ? 0 : value, target.nodeId(), invoke,
          System.nanoTime(), Outcome.UNKNOWN, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Op(client, session, variable, kind, kind == Kind.INCR ? 0 : value, target.nodeId(), invoke,
          System.nanoTime(), Outcome.UNKNOWN, e.toString());
    }
  }

  static String errorCode(String body) {
    try {
      JsonObject error = new JsonObject(body).getJsonObject("error");
      return error == null ? null : error.getString("code");
    } catch (RuntimeException e) {
      return null;
    }
  }

  static String abbreviate(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  /**
   * The sockets on local TCP port {@code port} holding bytes not read yet: the
   * requests a frozen node's kernel took in for it. Per /proc/net/tcp{,6}.
   */
  static int unreadConnections(int port) throws IOException {
    int n = 0;
    for (String file : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      Path p = Path.of(file);
      if (!Files.exists(p)) {
        continue;
      }
      for (String line : Files.readAllLines(p)) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 5 || !f[1].contains(":") || !"01".equals(f[3])) {
          continue;
        }
        int local = Integer.parseInt(f[1].substring(f[1].lastIndexOf(':') + 1), 16);
        long rx = Long.parseLong(f[4].substring(f[4].indexOf(':') + 1), 16);
        if (local == port && rx > 0) {
          n++;
        }
      }
    }
    return n;
  }

  @Test
  void aWokenOwnerLosesNoAcknowledgedWriteWhileItsSessionsAreServedElsewhere() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      NodeProcess entry = c.node(0);
      NodeProcess frozen = c.node(2);
      List<NodeProcess> survivors = List.of(c.node(0), c.node(1));
      Run run = new Run(c.nodes(), frozen);

      // 1. Sessions the node to freeze owns; four clients each (two counters, two writers of the register).
      List<String> sessions = new ArrayList<>();
      for (int i = 0; sessions.size() < SESSIONS && i < SESSIONS * 15; i++) {
        String id = "own-" + i;
        assertThat(Http.post(entry.baseUrl() + "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode())
            .isEqualTo(201);
        if (frozen.nodeId().equals(Http.getJson(entry.baseUrl() + "/v1/sessions/" + id).getString("owner"))) {
          sessions.add(id);
        }
      }
      assertThat(sessions).as("sessions owned by " + frozen.nodeId()).hasSize(SESSIONS);
      AtomicBoolean stop = new AtomicBoolean();
      List<Client> clients = new ArrayList<>();
      int index = 0;
      for (String s : sessions) {
        for (Kind kind : Kind.values()) {
          clients.add(new Client(run, index++, s, kind, true, survivors, stop));
          clients.add(new Client(run, index++, s, kind, false, survivors, stop));
        }
      }
      // Warmed on their owner: one increment of each counter, one write of each register.
      for (Client cl : clients) {
        if (cl.kind == Kind.REGISTER && !cl.startOnFrozen) {
          continue;
        }
        Op warm = write(run, "warm", entry, cl.session, cl.variable, cl.kind, 0);
        assertThat(warm.ok()).as(warm.toString()).isTrue();
        if (cl.kind == Kind.INCR) {
          assertThat(warm.detail).as("warm-up runs on the owner").contains(frozen.nodeId());
        }
        run.history.add(warm);
      }

      c.awaitSafe();
      boolean stopped = false;
      try {
        // 2. Frozen past the failure detector: the others drop it, and serve its sessions.
        frozen.signal("STOP");
        stopped = true;
        for (NodeProcess n : survivors) {
          Poll.until(n.nodeId() + " drops the frozen " + frozen.nodeId() + " from its ring", DEADLINE,
              () -> !Cluster.ring(n).contains(frozen.nodeId()));
        }
        for (String s : sessions) {
          Poll.until(s + " is served by a survivor", DEADLINE, () -> Http.post(entry.baseUrl() + "/v1/sessions/"
              + s + "/execute", "{\"tool\":\"echo\"}").statusCode() == 200);
        }

        // 3. Writes to the frozen node (its kernel queues them) and to the survivors, all at once; then the wake.
        clients.forEach(Thread::start);
        long toFrozen = clients.stream().filter(cl -> cl.startOnFrozen).count();
        try {
          Poll.until("the frozen node's kernel holds the " + toFrozen + " writes sent to it", Duration.ofSeconds(20),
              () -> unreadConnections(frozen.httpPort()) >= toFrozen);
        } catch (AssertionError notAll) {
          // Waking it with fewer writes queued still tests something; say so.
          System.out.println("NOTE only " + unreadConnections(frozen.httpPort()) + " of " + toFrozen
              + " writes were queued at the frozen node when it was woken: " + notAll.getMessage());
        }
        run.wokenAt = System.nanoTime();
        frozen.signal("CONT");
        stopped = false;
        long stopAt = run.wokenAt + WRITING_AFTER_WAKE.toNanos();
        clients.forEach(cl -> cl.stopAt = stopAt);
        for (Client cl : clients) {
          cl.join(WRITING_AFTER_WAKE.plus(OP_TIMEOUT).plusSeconds(10).toMillis());
          assertThat(cl.isAlive()).as(cl.id + " ended").isFalse();
        }
      } finally {
        stop.set(true);
        if (stopped) {
          frozen.signal("CONT");
        }
      }
      printSummary(run);

      // 4. Convergence: the woken node rejoins, and every node answers the same values for every session.
      for (NodeProcess n : c.nodes()) {
        Poll.until(n.nodeId() + " sees all three nodes again", Duration.ofSeconds(60),
            () -> Cluster.ring(n).size() == 3);
      }
      Map<String, JsonObject> last = new HashMap<>();
      Poll.until("every node answers the same counter and register for every session", Duration.ofSeconds(60),
          () -> {
            for (String s : sessions) {
              JsonObject seen = null;
              for (NodeProcess n : c.nodes()) {
                HttpResponse<String> r = Http.get(n.baseUrl() + "/v1/sessions/" + s + "/variables");
                if (r.statusCode() != 200) {
                  return false;
                }
                JsonObject values = new JsonObject(r.body()).getJsonObject("variables");
                if (seen != null && !seen.equals(values)) {
                  return false;
                }
                seen = values;
              }
              last.put(s, seen);
            }
            return true;
          });

      // 5. No acknowledged write lost.
      List<String> violations = new ArrayList<>();
      List<Op> evidence = new ArrayList<>();
      for (Client cl : clients) {
        if (cl.kind == Kind.INCR) {
          checkCounter(run, cl.session, cl.variable, last.get(cl.session).getLong(cl.variable), violations,
              evidence);
        } else if (cl.startOnFrozen) {
          checkRegister(run, cl.session, cl.variable, last.get(cl.session).getLong(cl.variable), violations,
              evidence);
        }
      }
      if (!violations.isEmpty()) {
        String report = report(run, violations, evidence);
        System.out.println(report);
        throw new AssertionError(report);
      }
    }
  }

  /** The writes of one variable, by invoke time. */
  static List<Op> ops(Run run, String session, String variable) {
    return run.history.stream().filter(o -> o.session.equals(session) && o.variable.equals(variable))
        .sorted(Comparator.comparingLong(Op::invoke)).collect(Collectors.toList());
  }

  static String where(Run run, Op o) {
    return o.client + " via " + run.name(o.target) + (o.detail == null ? "" : " " + o.detail);
  }

  /** A counter of one client (after its warm-up increment): increments that follow one another. */
  static void checkCounter(Run run, String s, String variable, long last, List<String> violations,
                           List<Op> evidence) {
    List<Op> ops = ops(run, s, variable);
    List<Op> acked = ops.stream().filter(Op::ok).collect(Collectors.toList());
    String counter = s + " counter " + variable;
    // One acknowledged before another was sent: the later one returns more (each compared with the highest
    // value acknowledged before it was sent).
    for (Op b : acked) {
      Op a = acked.stream().filter(o -> o.complete < b.invoke).max(Comparator.comparingLong(Op::value))
          .orElse(null);
      if (a != null && b.value <= a.value) {
        violations.add(String.format("%s: the increment by %s returned %d, %s the one by %s, acknowledged "
            + "before it was sent", counter, where(run, b), b.value, b.value == a.value ? "as did" : "less than",
            where(run, a)));
        evidence.add(a);
        evidence.add(b);
      }
    }
    long highest = acked.stream().mapToLong(Op::value).max().orElse(0);
    if (last < highest || last < acked.size() || last > ops.size()) {
      violations.add(String.format("%s ends at %d, but its %d acknowledged increments returned up to %d (%d "
          + "attempted)", counter, last, acked.size(), highest, ops.size()));
      acked.stream().filter(o -> o.value > last).forEach(evidence::add);
    }
  }

  /** A register of a session, written by several clients. */
  static void checkRegister(Run run, String s, String variable, long last, List<String> violations,
                            List<Op> evidence) {
    List<Op> ops = ops(run, s, variable);
    String register = s + " register " + variable;
    Op source = ops.stream().filter(o -> o.value == last).findFirst().orElse(null);
    if (source == null) {
      violations.add(register + " ends at " + last + ", a value nobody wrote");
      return;
    }
    if (!source.ok()) {
      return; // its write may have taken effect at any time
    }
    for (Op later : ops) {
      if (later.ok() && later.invoke > source.complete) {
        violations.add(String.format("%s ends at %d, written by %s, but the write of %d by %s, sent after that "
            + "one was acknowledged, was acknowledged too and is lost", register, last, where(run, source),
            later.value, where(run, later)));
        evidence.add(source);
        evidence.add(later);
        return;
      }
    }
  }

  static void printSummary(Run run) {
    Map<String, Long> counts = run.history.stream().collect(Collectors.groupingBy(o -> o.kind + " via "
        + run.name(o.target) + " " + o.outcome + (o.outcome == Outcome.FAILED ? " " + failure(o) : ""),
        TreeMap::new, Collectors.counting()));
    System.out.println("FIGURE owner_freeze_ops=" + run.history.size());
    counts.forEach((k, n) -> System.out.println("  " + k + ": " + n));
  }

  /** A failed write's status and code. */
  static String failure(Op o) {
    return o.detail.length() > 60 ? o.detail.substring(0, 60) + "..." : o.detail;
  }

  /** The violations, then the writes around them, times relative to the wake. */
  static String report(Run run, List<String> violations, List<Op> evidence) {
    StringBuilder out = new StringBuilder("Acknowledged writes were lost around the wake of the frozen owner "
        + run.frozen.nodeId() + " (" + violations.size() + " violations; nodes "
        + run.nodes.stream().map(n -> run.name(n.nodeId())).collect(Collectors.joining(", ")) + ")\n");
    violations.stream().limit(20).forEach(v -> out.append("- ").append(v).append('\n'));
    if (violations.size() > 20) {
      out.append("- ... and ").append(violations.size() - 20).append(" more\n");
    }
    // The history of the first few variables involved, around the evidence.
    List<String> shown = evidence.stream().map(o -> o.session + "/" + o.variable).distinct().limit(3)
        .collect(Collectors.toList());
    for (String key : shown) {
      List<Op> mine = evidence.stream().filter(o -> key.equals(o.session + "/" + o.variable))
          .collect(Collectors.toList());
      long from = mine.stream().mapToLong(Op::invoke).min().getAsLong() - 1_000_000_000L;
      long to = mine.stream().mapToLong(Op::complete).max().getAsLong() + 500_000_000L;
      out.append("history of ").append(key).append(" (times relative to the wake; * marks the writes above):\n");
      List<Op> around = ops(run, mine.get(0).session, mine.get(0).variable).stream()
          .filter(o -> o.complete >= from && o.invoke <= to).collect(Collectors.toList());
      around.stream().limit(40).forEach(o -> out.append(mine.contains(o) ? "*" : " ").append(run.describe(o))
          .append('\n'));
      if (around.size() > 40) {
        out.append("   ... ").append(around.size() - 40).append(" more\n");
      }
    }
    return out.toString();
  }
}
