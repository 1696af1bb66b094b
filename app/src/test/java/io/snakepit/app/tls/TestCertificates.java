package io.snakepit.app.tls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A CA and certificates it signs, made with the {@code openssl} command in a
 * temp dir that {@link #close()} deletes. Leaf certificates are EC P-256 and
 * name 127.0.0.1 and localhost, for server and client use.
 */
public final class TestCertificates implements AutoCloseable {

  /** A certificate, its key and its serial number (hex, lower case, no leading zeros). */
  public record Leaf(Path cert, Path key, String serial) {
  }

  public final Path dir;
  public final Path caCert;
  private final Path caKey;

  private TestCertificates(Path dir, Path caCert, Path caKey) {
    this.dir = dir;
    this.caCert = caCert;
    this.caKey = caKey;
  }

  /** A new CA named {@code name}. */
  public static TestCertificates ca(String name) throws IOException {
    Path dir = Files.createTempDirectory("snakepit-tls-");
    TestCertificates c = new TestCertificates(dir, dir.resolve(name + "-ca.pem"), dir.resolve(name + "-ca.key"));
    openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", c.caKey.toString(), "-out", c.caCert.toString(), "-days", "2", "-subj", "/CN=" + name + " CA");
    return c;
  }

  /** A certificate for {@code name} signed by this CA, with a random serial. */
  public Leaf leaf(String name) throws IOException {
    byte[] b = new byte[8];
    new SecureRandom().nextBytes(b);
    b[0] = (byte) ((b[0] & 0x7f) | 0x10); // positive, and no leading zero to trim
    String serial = HexFormat.of().formatHex(b);
    Path key = dir.resolve(name + "-" + serial + ".key");
    Path csr = dir.resolve(name + "-" + serial + ".csr");
    Path cert = dir.resolve(name + "-" + serial + ".pem");
    Path ext = dir.resolve(name + "-" + serial + ".ext");
    Files.writeString(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
    openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
        key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name);
    openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey", caKey.toString(),
        "-set_serial", "0x" + serial, "-days", "2", "-extfile", ext.toString(), "-out", cert.toString());
    return new Leaf(cert, key, serial);
  }

  /** Replaces {@code target} by {@code source}'s content in one step, as a renewal tool would. */
  public static void replace(Path source, Path target) throws IOException {
    Path tmp = target.resolveSibling(target.getFileName() + ".new");
    Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void openssl(Path dir, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException("openssl " + String.join(" ", args) + " failed: " + out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    } finally {
      p.destroyForcibly();
    }
  }

  @Override
  public void close() throws IOException {
    try (var walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
