package io.snakepit.app.cli;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * The CLI's side of TLS: an {@link SSLContext} that trusts a private CA
 * ({@code --ca-cert}) on top of nothing else, and presents a client
 * certificate ({@code --client-cert}, {@code --client-key}) to a node that asks
 * for one. PEM files are parsed by Vert.x's loader, the same the node uses.
 */
final class ClientTls {

  private ClientTls() {
  }

  /**
   * The context for these files, or null when none is given (the JDK's default
   * trust store then applies to an https URL). Throws {@link NodeCommand.Failure}
   * naming the flag when a file is missing or not PEM.
   */
  static SSLContext context(Path caCert, Path clientCert, Path clientKey) throws NodeCommand.Failure {
    if (caCert == null && clientCert == null && clientKey == null) {
      return null;
    }
    if ((clientCert == null) != (clientKey == null)) {
      throw new NodeCommand.Failure(ExitCodes.USAGE, "--client-cert and --client-key go together: give both");
    }
    TrustManager[] trust = null;
    if (caCert != null) {
      Buffer pem = read(caCert, "--ca-cert");
      try {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        int i = 0;
        for (var c : CertificateFactory.getInstance("X.509").generateCertificates(
            new java.io.ByteArrayInputStream(pem.getBytes()))) {
          store.setCertificateEntry("ca-" + i++, c);
        }
        if (i == 0) {
          throw new IllegalArgumentException("no certificate");
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        trust = tmf.getTrustManagers();
      } catch (Exception e) {
        throw new NodeCommand.Failure(ExitCodes.USAGE, "--ca-cert " + caCert
            + " is not a PEM certificate (\"BEGIN CERTIFICATE\")");
      }
    }
    KeyManager[] keys = null;
    if (clientCert != null) {
      Buffer cert = read(clientCert, "--client-cert");
      Buffer key = read(clientKey, "--client-key");
      try {
        keys = new PemKeyCertOptions().setCertValue(cert).setKeyValue(key).getKeyManagerFactory(null)
            .getKeyManagers();
      } catch (Exception e) {
        // Not the parser's message: it may quote the key file.
        throw new NodeCommand.Failure(ExitCodes.USAGE, "--client-cert " + clientCert + " and --client-key "
            + clientKey + " are not a PEM certificate and its private key");
      }
    }
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(keys, trust, new SecureRandom());
      return ctx;
    } catch (java.security.GeneralSecurityException e) {
      throw new NodeCommand.Failure(ExitCodes.USAGE, "cannot set up TLS: " + e.getMessage());
    }
  }

  private static Buffer read(Path file, String flag) throws NodeCommand.Failure {
    try {
      return Buffer.buffer(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new NodeCommand.Failure(ExitCodes.USAGE, flag + " " + file + " cannot be read ("
          + e.getClass().getSimpleName() + ")");
    }
  }
}
