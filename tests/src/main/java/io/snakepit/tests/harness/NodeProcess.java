package io.snakepit.tests.harness;

import io.snakepit.supervisor.RunDirectory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Snakepit node running as a separate JVM, started from this JVM's
 * classpath with {@code snakepit run}. Waits for the ready line, keeps the
 * node's log in a file, and ends the node (SIGKILL) when closed if it still runs.
 */
public final class NodeProcess implements AutoCloseable {

  private static final Pattern READY =
      Pattern.compile("snakepit: ready http=([^:\\s]+):(\\d+)(?: grpc=[^:\\s]+:(\\d+))? node=(\\S+)");

  /** What Hazelcast asks of a Java 17+ JVM (the launcher passes the same). */
  public static final List<String> HAZELCAST_JVM_FLAGS = List.of("--add-modules", "java.se",
      "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
      "--add-opens", "java.base/java.lang=ALL-UNNAMED",
      "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
      "--add-opens", "java.management/sun.management=ALL-UNNAMED",
      "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED");

  private final Process process;
  private final Path log;
  private final CompletableFuture<Matcher> ready = new CompletableFuture<>();
  private String host;
  private int httpPort;
  private int grpcPort = -1;
  private String nodeId;
  /** The private run directory the node made under the temp dir; a killed node cannot delete it itself. */
  private Path runDir;

  private NodeProcess(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  /** Starts {@code snakepit run ARGS...} and waits for its ready line. */
  public static NodeProcess start(Path dataDir, Duration deadline, String... args) throws IOException {
    return start(List.of(), dataDir, deadline, args);
  }

  /**
   * As {@link #start(Path, Duration, String...)}, with the JVM's command line
   * behind {@code prefix}, e.g. {@code ip netns exec NAME} to start the node in
   * a network namespace. The prefix must exec the command in its own process
   * (as {@code ip netns exec} does), so that {@link #pid()} and the signals
   * reach the JVM.
   */
  public static NodeProcess start(List<String> prefix, Path dataDir, Duration deadline, String... args)
      throws IOException {
    return start(prefix, dataDir, deadline, 0, 0, args);
  }

  /**
   * As {@link #start(Path, Duration, String...)}, on fixed HTTP and gRPC ports: to start a node
   * again where its clients expect it (0 still picks a free port).
   */
  public static NodeProcess startOnPorts(Path dataDir, Duration deadline, int httpPort, int grpcPort,
      String... args) throws IOException {
    return start(List.of(), dataDir, deadline, httpPort, grpcPort, args);
  }

  /**
   * As {@link #start(List, Path, Duration, String...)}, on fixed HTTP and gRPC ports (0 picks a free one):
   * to start a node again, in its namespace, where its clients expect it.
   */
  public static NodeProcess start(List<String> prefix, Path dataDir, Duration deadline, int httpPort,
      int grpcPort, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(HAZELCAST_JVM_FLAGS);
    cmd.add("-Xmx512m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.snakepit.app.Main");
    cmd.add("run");
    cmd.add("--data-dir");
    cmd.add(dataDir.toString());
    cmd.add("--http-port");
    cmd.add(Integer.toString(httpPort));
    cmd.add("--grpc-port");
    cmd.add(Integer.toString(grpcPort));
    cmd.addAll(List.of(args));
    Files.createDirectories(dataDir);
    Path log = dataDir.resolve("node.log");
    // Appended: a node started again on the same data dir keeps its earlier runs' log.
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
    NodeProcess node = new NodeProcess(pb.start(), log);
    node.readStdout();
    try {
      Matcher m = node.ready.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
      node.host = m.group(1);
      node.httpPort = Integer.parseInt(m.group(2));
      node.grpcPort = m.group(3) == null ? -1 : Integer.parseInt(m.group(3));
      node.nodeId = m.group(4);
      // Recorded before the node says it is ready; read now, as a later start on this data dir rewrites it.
      node.runDir = RunDirectory.recorded(dataDir).orElse(null);
    } catch (Exception e) {
      node.close();
      throw new IOException("node did not become ready: " + e + "\n--- node log ---\n" + node.logText(), e);
    }
    return node;
  }

  private void readStdout() {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          Matcher m = READY.matcher(line);
          if (m.find()) {
            ready.complete(m);
          }
        }
      } catch (IOException ignored) {
        // the node went away
      }
      ready.completeExceptionally(new IOException("node exited with " + exitCodeOrNull()));
    }, "node-stdout");
    t.setDaemon(true);
    t.start();
  }

  private Integer exitCodeOrNull() {
    try {
      return process.waitFor(1, TimeUnit.SECONDS) ? process.exitValue() : null;
    } catch (InterruptedException e) {
      return null;
    }
  }

  public String baseUrl() {
    return "http://" + host + ":" + httpPort;
  }

  public int httpPort() {
    return httpPort;
  }

  /** The gRPC port, or -1 if the node did not announce one. */
  public int grpcPort() {
    return grpcPort;
  }

  /** {@code host:port} of the gRPC API. */
  public String grpcTarget() {
    return host + ":" + grpcPort;
  }

  public String nodeId() {
    return nodeId;
  }

  public long pid() {
    return process.pid();
  }

  public Process process() {
    return process;
  }

  /** What the node has logged so far. */
  public String logText() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Sends a signal (KILL, TERM, STOP, CONT) to the node's JVM. */
  public void signal(String sig) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IOException("kill -" + sig + " failed");
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (runDir != null && !process.isAlive()) {
      try {
        RunDirectory.delete(runDir);
      } catch (IOException e) {
        throw new UncheckedIOException("could not delete the node's run directory " + runDir, e);
      }
    }
  }
}
