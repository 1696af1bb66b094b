package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.app.tls.TestCertificates;
import io.snakepit.config.ConfigException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The TLS settings ({@code tls.*}, {@code --tls-*}, {@code cluster-tls-*}) as the
 * node reads them at start: a missing, unreadable, non-PEM or mismatched file
 * stops it with a message naming the setting (exit 2), never the key's content.
 */
class TlsConfigTest {

  static TestCertificates ca;
  static TestCertificates.Leaf node;
  static TestCertificates.Leaf other;
  static Path garbage;
  static Path secretGarbageKey;
  static Path dataDir;

  @BeforeAll
  static void files() throws Exception {
    ca = TestCertificates.ca("config");
    node = ca.leaf("node");
    other = ca.leaf("other");
    garbage = Files.writeString(ca.dir.resolve("garbage.pem"), "not a certificate\n");
    secretGarbageKey = Files.writeString(ca.dir.resolve("broken.key"),
        "-----BEGIN PRIVATE KEY-----\nSECRET-MATERIAL-1234\n-----END PRIVATE KEY-----\n");
    dataDir = Files.createDirectory(ca.dir.resolve("data"));
  }

  @AfterAll
  static void cleanUp() throws Exception {
    ca.close();
  }

  static RunCommand run(Map<String, String> env, String... args) {
    RunCommand cmd = new RunCommand();
    List<String> all = new ArrayList<>(List.of("--data-dir", dataDir.toString()));
    all.addAll(List.of(args));
    new CommandLine(cmd).parseArgs(all.toArray(String[]::new));
    cmd.environment = env;
    return cmd;
  }

  static NodeConfig resolve(String... args) {
    return run(Map.of(), args).resolve();
  }

  static void refused(String setting, String why, String... args) {
    assertThatThrownBy(() -> resolve(args)).isInstanceOf(ConfigException.class)
        .hasMessageContaining(setting).hasMessageContaining(why).hasMessageNotContaining("SECRET-MATERIAL");
  }

  @Test
  void theFlagsTurnTlsOnAndTheEnvironmentDoesTheSame() {
    NodeConfig flags = resolve("--tls-cert", node.cert().toString(), "--tls-key", node.key().toString(),
        "--tls-client-ca", ca.caCert.toString());
    assertThat(flags.tls().enabled()).isTrue();
    assertThat(flags.tls().mutual()).isTrue();
    assertThat(flags.tls().cert()).isEqualTo(node.cert());
    NodeConfig env = run(Map.of("SNAKEPIT_TLS__CERT", node.cert().toString(), "SNAKEPIT_TLS__KEY",
        node.key().toString(), "SNAKEPIT_CA_CERT", "/the/cli's/variable")).resolve();
    assertThat(env.tls().enabled()).isTrue();
    assertThat(env.tls().mutual()).isFalse();
    assertThat(resolve().tls().enabled()).as("no TLS unless asked").isFalse();
  }

  @Test
  void badTlsFilesAreRefusedNamingTheSetting() {
    refused("tls.cert", "cannot read", "--tls-cert", ca.dir.resolve("missing.pem").toString(),
        "--tls-key", node.key().toString());
    refused("tls.cert", "PEM certificate", "--tls-cert", garbage.toString(), "--tls-key", node.key().toString());
    refused("tls.key", "not a PEM private key", "--tls-cert", node.cert().toString(),
        "--tls-key", secretGarbageKey.toString());
    refused("tls.key", "not the private key of the certificate", "--tls-cert", node.cert().toString(),
        "--tls-key", other.key().toString());
    refused("tls.client-ca", "PEM certificate", "--tls-cert", node.cert().toString(),
        "--tls-key", node.key().toString(), "--tls-client-ca", garbage.toString());
    refused("tls.key", "set both", "--tls-cert", node.cert().toString());
    refused("tls.client-ca", "needs TLS", "--tls-client-ca", ca.caCert.toString());
    refused("tls.certs", "", "--set", "tls.certs=" + node.cert());
  }

  @Test
  void badEventBusTlsIsRefusedNamingTheSetting() {
    refused("cluster-tls-ca", "together", "--set", "cluster-tls-cert=" + node.cert(),
        "--set", "cluster-tls-key=" + node.key());
    refused("cluster-tls-key", "not the private key", "--set", "cluster-tls-cert=" + node.cert(),
        "--set", "cluster-tls-key=" + other.key(), "--set", "cluster-tls-ca=" + ca.caCert);
    refused("cluster-tls-ca", "PEM certificate", "--set", "cluster-tls-cert=" + node.cert(),
        "--set", "cluster-tls-key=" + node.key(), "--set", "cluster-tls-ca=" + garbage);
    NodeConfig ok = resolve("--set", "cluster-tls-cert=" + node.cert(), "--set", "cluster-tls-key=" + node.key(),
        "--set", "cluster-tls-ca=" + ca.caCert);
    assertThat(ok.cluster().busTls()).isNotNull();
  }

  @Test
  void aBadCertificateStopsTheNodeWithExitTwoAndOneLine() {
    PrintStream saved = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      code = run(Map.of(), "--http-port", "0", "--grpc-port", "0", "--tls-cert", node.cert().toString(),
          "--tls-key", secretGarbageKey.toString()).call();
    } finally {
      System.setErr(saved);
    }
    String text = err.toString(StandardCharsets.UTF_8);
    assertThat(code).isEqualTo(RunCommand.EXIT_CONFIG);
    assertThat(text).startsWith("snakepit: configuration error: tls.key: ").doesNotContain("SECRET-MATERIAL")
        .doesNotContain("\tat ");
    assertThat(text.strip().lines().count()).isEqualTo(1);
  }
}
