package io.snakepit.supervisor;

/**
 * What one worker, and every process it starts, may use while it runs a
 * call; {@code 0} leaves a limit off. A breach fails the call with
 * {@code worker_limit_exceeded} naming the limit, and the worker is replaced.
 * Keys {@code max-memory-mb}, {@code max-processes}, {@code max-open-files}
 * and {@code max-cpu-s-per-call}; how each is enforced is in docs/operations.md.
 *
 * @param memoryMb      address space of the worker and of each process it starts (RLIMIT_AS)
 * @param processes     processes and threads the worker's tools may have at once (a pids cgroup)
 * @param openFiles     open files of the worker and of each process it starts (RLIMIT_NOFILE)
 * @param cpuMsPerCall  CPU time the worker may use while one call runs, checked every heartbeat
 */
public record WorkerLimits(long memoryMb, int processes, int openFiles, long cpuMsPerCall) {

  /** No limits. */
  public static final WorkerLimits NONE = new WorkerLimits(0, 0, 0, 0);

  /** Names of the limits as {@code worker_limit_exceeded} reports them in {@code limit}. */
  public static final String MEMORY = "memory";
  public static final String PROCESSES = "processes";
  public static final String OPEN_FILES = "open_files";
  public static final String CPU = "cpu";

  /** Whether the forkserver needs a pids cgroup for this pool. */
  boolean needsCgroup() {
    return processes > 0;
  }
}
