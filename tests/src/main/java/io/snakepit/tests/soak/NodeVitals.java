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
record NodeVitals(double heapAfterGcMb, int threads, int openFiles) {

  private static final Pattern USED = Pattern.compile("used (\\d+)K");

  static NodeVitals of(long pid) throws IOException, InterruptedException {
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

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor();
    return out;
  }
}
