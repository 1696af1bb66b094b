package io.snakepit.tests.chaos;

import io.vertx.core.json.JsonObject;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Predicate;

/**
 * What a run recorded: every client operation and every fault, in the order
 * they completed. Thread-safe while recording; the checkers read it after the
 * run. Written as NDJSON (one operation or fault per line, then the final
 * state), so that a run can be checked again, or planted with anomalies,
 * without the cluster.
 */
public final class History {

  private final ConcurrentLinkedQueue<Op> ops = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Fault> faults = new ConcurrentLinkedQueue<>();
  /** The run's time zero, for reports: when the clients started. */
  private volatile long origin = System.nanoTime();

  public void add(Op op) {
    ops.add(op);
  }

  public void add(Fault f) {
    faults.add(f);
  }

  public void origin(long nanos) {
    origin = nanos;
  }

  public long origin() {
    return origin;
  }

  /** Every operation, by invoke time. */
  public List<Op> ops() {
    List<Op> out = new ArrayList<>(ops);
    out.sort(Comparator.comparingLong(Op::invoke));
    return out;
  }

  /** The operations that match, by invoke time. */
  public List<Op> ops(Predicate<Op> which) {
    return ops().stream().filter(which).toList();
  }

  /** Every fault, by start time. */
  public List<Fault> faults() {
    List<Fault> out = new ArrayList<>(faults);
    out.sort(Comparator.comparingLong(Fault::start));
    return out;
  }

  /** A copy whose operations are {@code replaced} (the self-test's planted anomalies). */
  public History with(List<Op> replaced) {
    History h = new History();
    h.origin = origin;
    h.ops.addAll(replaced);
    h.faults.addAll(faults);
    return h;
  }

  /** Writes the history and the final state as NDJSON. */
  public void write(Path file, FinalState end) throws IOException {
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      w.write(new JsonObject().put("origin", origin).encode());
      w.newLine();
      for (Fault f : faults()) {
        w.write(new JsonObject().put("fault", f.toJson()).encode());
        w.newLine();
      }
      for (Op o : ops()) {
        w.write(new JsonObject().put("op", o.toJson()).encode());
        w.newLine();
      }
      w.write(new JsonObject().put("final", end.toJson()).encode());
      w.newLine();
    }
  }

  /** A history and its final state, as read back from a file {@link #write} wrote. */
  public record Recorded(History history, FinalState end) {
  }

  /** Reads what {@link #write} wrote. */
  public static Recorded read(Path file) throws IOException {
    History h = new History();
    FinalState end = null;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      JsonObject j = new JsonObject(line);
      if (j.containsKey("origin")) {
        h.origin = j.getLong("origin");
      } else if (j.containsKey("fault")) {
        h.faults.add(Fault.fromJson(j.getJsonObject("fault")));
      } else if (j.containsKey("op")) {
        h.ops.add(Op.fromJson(j.getJsonObject("op")));
      } else if (j.containsKey("final")) {
        end = FinalState.fromJson(j.getJsonObject("final"));
      }
    }
    if (end == null) {
      throw new IOException(file + " has no final state: the run that wrote it did not finish");
    }
    return new Recorded(h, end);
  }
}
