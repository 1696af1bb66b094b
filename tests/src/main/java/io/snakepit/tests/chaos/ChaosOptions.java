package io.snakepit.tests.chaos;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How a chaos run is set up ({@code tests/chaos.sh --help} lists the flags).
 *
 * @param seed the seed of every random choice: the clients' operations and the nemesis's faults
 * @param duration how long the clients run and the nemesis injures the cluster
 * @param nemeses the faults to draw from; partitions need network namespaces (root)
 * @param nodes how many node JVMs
 * @param clients how many client threads
 * @param sessions how many shared sessions the clients write
 * @param majority whether the nodes run in majority mode (only the majority side of a partition serves)
 * @param backups the session map's synchronous backups
 * @param faultHold how long a fault lasts at least (longer than failure detection)
 * @param quiet the mean quiet spell between faults
 * @param opTimeout when a client gives up waiting for an answer (recorded as a stalled call)
 * @param convergenceBound the documented bound on convergence after the last heal
 * @param out where the history, the report and the timeline go
 * @param adapters the directory that holds {@code chaos_adapter.py}
 */
public record ChaosOptions(long seed, Duration duration, List<FaultKind> nemeses, int nodes, int clients,
                           int sessions, boolean majority, int backups, Duration faultHold, Duration quiet,
                           Duration opTimeout, Duration convergenceBound, Path out, Path adapters) {

  /** Whether the run needs network namespaces: a partition was asked for. */
  public boolean namespaces() {
    return nemeses.stream().anyMatch(FaultKind::partition);
  }

  /** Whether each node needs a disk of its own to fill: a full disk was asked for. */
  public boolean disks() {
    return nemeses.contains(FaultKind.FULL_DISK);
  }

  /** The defaults, for a run of {@code duration} with these faults. */
  public static ChaosOptions defaults(long seed, Duration duration, List<FaultKind> nemeses, Path out) {
    return new ChaosOptions(seed, duration, nemeses, 3, 8, 4, false, 1, Duration.ofSeconds(7),
        Duration.ofSeconds(4), Duration.ofSeconds(30), Duration.ofSeconds(15), out, locateAdapters());
  }

  /** A copy in majority mode or not. */
  public ChaosOptions withMajority(boolean m) {
    return new ChaosOptions(seed, duration, nemeses, nodes, clients, sessions, m, backups, faultHold, quiet,
        opTimeout, convergenceBound, out, adapters);
  }

  /** A copy with {@code n} synchronous backups. */
  public ChaosOptions withBackups(int n) {
    return new ChaosOptions(seed, duration, nemeses, nodes, clients, sessions, majority, n, faultHold, quiet,
        opTimeout, convergenceBound, out, adapters);
  }

  /** A copy with another bound on convergence after the last heal. */
  public ChaosOptions withConvergenceBound(Duration bound) {
    return new ChaosOptions(seed, duration, nemeses, nodes, clients, sessions, majority, backups, faultHold, quiet,
        opTimeout, bound, out, adapters);
  }

  /** A copy with this many nodes, clients and shared sessions. */
  public ChaosOptions withSize(int n, int c, int s) {
    return new ChaosOptions(seed, duration, nemeses, n, c, s, majority, backups, faultHold, quiet, opTimeout,
        convergenceBound, out, adapters);
  }

  /** {@code python-worker/tests/sample_adapters}, from the repository root or from a module directory. */
  static Path locateAdapters() {
    for (String base : List.of(".", "..")) {
      Path p = Path.of(base, "python-worker", "tests", "sample_adapters").toAbsolutePath().normalize();
      if (p.resolve("chaos_adapter.py").toFile().isFile()) {
        return p;
      }
    }
    throw new IllegalStateException("python-worker/tests/sample_adapters/chaos_adapter.py not found: run from "
        + "the repository root or a module directory");
  }
}
