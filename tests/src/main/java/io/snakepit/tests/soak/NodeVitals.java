package io.snakepit.tests.soak;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What a soak samples of a node JVM once a minute: its heap after a full GC
 * (through {@code jcmd}, from the JDK running the soak), its threads and its
 * open file descriptors (from {@code /proc}).
 *
 * @param heapAfterGcMb the heap in use right after {@code GC.run}
 * @param threads the JVM's threads
 * @param openFiles its open file descriptors (sockets included)
 */
public record NodeVitals(double heapAfterGcMb, int threads, int openFiles) {

  private static final Pattern USED = Pattern.compile("used (\\d+)K");

  /** Samples the JVM of process {@code pid}. */
  public static NodeVitals of(long pid) throws IOException, InterruptedException {
    jcmd(pid, "GC.run");
    String heap = jcmd(pid, "GC.heap_info");
    Matcher m = USED.matcher(heap);
    double mb = m.find() ? Long.parseLong(m.group(1)) / 1024.0 : -1;
    int threads = -1;
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("Threads:")) {
        threads = Integer.parseInt(line.substring(8).trim());
      }
    }
    int fds;
    try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      fds = (int) s.count();
    }
    return new NodeVitals(mb, threads, fds);
  }

  /** The lowest of each figure over {@code samples}: a leak raises it, one busy moment does not. */
  public static NodeVitals floor(java.util.List<NodeVitals> samples) {
    return new NodeVitals(samples.stream().mapToDouble(NodeVitals::heapAfterGcMb).min().orElse(0),
        samples.stream().mapToInt(NodeVitals::threads).min().orElse(0),
        samples.stream().mapToInt(NodeVitals::openFiles).min().orElse(0));
  }

  /**
   * Whether these figures grew from {@code before}'s: heap by more than a quarter plus 16 MB, threads by more
   * than 10, open files by more than 20 (what a busy moment moves, which a leak soon passes).
   */
  public boolean grewFrom(NodeVitals before) {
    return heapAfterGcMb > before.heapAfterGcMb * 1.25 + 16 || threads > before.threads + 10
        || openFiles > before.openFiles + 20;
  }

  /** "heap after GC A -> B MB, threads ..., open files ..." from {@code before} to these. */
  public String changeFrom(NodeVitals before) {
    return String.format(java.util.Locale.ROOT, "heap after GC %.0f -> %.0f MB, threads %d -> %d, open files %d -> %d",
        before.heapAfterGcMb, heapAfterGcMb, before.threads, threads, before.openFiles, openFiles);
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor();
    return out;
  }
}
