package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.FileDescriptor;
import io.snakepit.grpc.v1.SnakepitProto;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.grpc.health.v1.HealthProto;
import io.vertx.grpc.reflection.v1.ServerReflectionProto;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The gRPC API against a real client in another language: Python's grpcio (Debian's
 * python3-grpcio, run by /usr/bin/python3) calls a node running as a separate JVM.
 * The Python side builds its message classes at run time from a FileDescriptorSet
 * written here from the node's own compiled descriptors, so no generated Python
 * code is kept anywhere. See src/test/python/grpc_client.py for the scenarios.
 *
 * <p>Without grpc in /usr/bin/python3 the test fails, naming the packages to install;
 * outside CI (env CI unset) it is skipped instead, with a loud message.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GrpcPythonClientTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  static final String PYTHON = "/usr/bin/python3";
  static final Path SCRIPT = Path.of("src", "test", "python", "grpc_client.py").toAbsolutePath();

  Path dir;
  Path protoset;
  NodeProcess node;

  @BeforeAll
  void startNode() throws Exception {
    requireGrpcio();
    dir = Files.createTempDirectory("snakepit-grpc-");
    protoset = dir.resolve("snakepit.protoset");
    Files.write(protoset, descriptorSet(SnakepitProto.getDescriptor(), HealthProto.getDescriptor(),
        ServerReflectionProto.getDescriptor()).toByteArray());
    node = NodeProcess.start(dir.resolve("node"), DEADLINE, "--pool-size", "2");
    assertThat(node.grpcPort()).as("the ready line names the gRPC port").isPositive();
  }

  @AfterAll
  void stopNode() throws IOException {
    if (node != null) {
      node.close();
    }
    if (dir != null) {
      try (var walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @ParameterizedTest(name = "python grpcio: {0}")
  @ValueSource(strings = {"execute", "stream", "errors", "cancel", "sessions", "health", "reflection"})
  void scenario(String scenario) throws Exception {
    Process p = new ProcessBuilder(PYTHON, SCRIPT.toString(), protoset.toString(), node.grpcTarget(),
        node.baseUrl(), scenario).redirectErrorStream(true).start();
    String out;
    try {
      if (!p.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        fail("python client '" + scenario + "' did not finish within " + DEADLINE);
      }
    } finally {
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
    assertThat(p.exitValue()).as("python client '%s' said:%n%s%n--- node log ---%n%s", scenario, out,
        node.logText()).isZero();
    assertThat(out).contains("ok " + scenario);
  }

  /** Every file the given ones need, dependencies first: what a descriptor pool must be fed. */
  static FileDescriptorSet descriptorSet(FileDescriptor... roots) {
    Set<FileDescriptor> seen = new LinkedHashSet<>();
    for (FileDescriptor root : roots) {
      collect(root, seen);
    }
    FileDescriptorSet.Builder set = FileDescriptorSet.newBuilder();
    seen.forEach(f -> set.addFile(f.toProto()));
    return set.build();
  }

  private static void collect(FileDescriptor f, Set<FileDescriptor> seen) {
    if (seen.contains(f)) {
      return;
    }
    for (FileDescriptor dep : f.getDependencies()) {
      collect(dep, seen);
    }
    seen.add(f);
  }

  static void requireGrpcio() throws Exception {
    String problem = null;
    if (!Files.isExecutable(Path.of(PYTHON))) {
      problem = PYTHON + " does not exist";
    } else {
      Process p = new ProcessBuilder(PYTHON, "-c", "import grpc, google.protobuf").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        problem = PYTHON + " cannot import grpc: " + out.strip();
      }
    }
    if (problem == null) {
      return;
    }
    String msg = problem + ". Install the client side of the gRPC tests with "
        + "'apt-get install -y python3-grpcio python3-protobuf' (.ci/run does).";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(msg);
    }
    List<String> banner = new ArrayList<>(List.of("", "#".repeat(78), "# SKIPPING the Python gRPC client tests: " + msg,
        "#".repeat(78), ""));
    banner.forEach(System.err::println);
    Assumptions.abort(msg);
  }
}
