package io.snakepit.app.tls;

import io.snakepit.config.ConfigException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.X509KeyManager;

/**
 * A certificate chain, its private key and optionally the CA certificates peers
 * must be signed by, read from PEM files and checked: each file readable and
 * PEM, the key the certificate's own. Vert.x's PEM loader parses them, so what
 * passes here is what the servers accept. Never holds or prints the key outside
 * {@link #keyCert()}.
 *
 * @param cert   the certificate chain, PEM
 * @param key    the private key, PEM
 * @param ca     CA certificates, PEM; null when no peer certificate is asked for
 * @param serial the leaf certificate's serial number (hex), for logs and tests
 * @param digest SHA-256 over the three files' contents: a change of any of them changes it
 */
public record PemCredentials(Buffer cert, Buffer key, Buffer ca, String serial, String digest) {

  /**
   * Reads and checks the files (blocking). {@code caFile} may be null. A problem is a
   * {@link ConfigException} naming the setting and the file, never the key's content.
   */
  public static PemCredentials read(Path certFile, String certSetting, Path keyFile, String keySetting,
                                    Path caFile, String caSetting) {
    byte[] cert = bytes(certFile, certSetting);
    byte[] key = bytes(keyFile, keySetting);
    byte[] ca = caFile == null ? null : bytes(caFile, caSetting);
    List<X509Certificate> chain = certificates(cert, certFile, certSetting);
    PrivateKey privateKey;
    try {
      // No Vert.x instance: it is only used to read file paths, and these are values.
      PemKeyCertOptions options = keyCert(cert, key);
      X509KeyManager km = (X509KeyManager) options.getKeyManagerFactory(null).getKeyManagers()[0];
      privateKey = km.getPrivateKey(Collections.list(options.loadKeyStore(null).aliases()).get(0));
    } catch (Exception e) {
      // The parser's message may quote the file; a key file's content is a secret.
      throw new ConfigException(keySetting + ": " + keyFile + " is not a PEM private key (PKCS#8 \"BEGIN PRIVATE "
          + "KEY\", or PKCS#1 \"BEGIN RSA PRIVATE KEY\") the node can read");
    }
    if (!matches(privateKey, chain.get(0))) {
      throw new ConfigException(keySetting + ": " + keyFile + " is not the private key of the certificate in "
          + certSetting + " (" + certFile + "): give the key the certificate was issued for");
    }
    if (ca != null) {
      certificates(ca, caFile, caSetting);
    }
    return new PemCredentials(Buffer.buffer(cert), Buffer.buffer(key), ca == null ? null : Buffer.buffer(ca),
        chain.get(0).getSerialNumber().toString(16), digest(cert, key, ca));
  }

  /**
   * The digest {@link #read} would give these files, without parsing them: a cheap
   * check for a change. An unreadable file gives a digest of its own, so that
   * {@code read} then reports it.
   */
  public static String digestOf(Path certFile, Path keyFile, Path caFile) {
    try {
      return digest(Files.readAllBytes(certFile), Files.readAllBytes(keyFile),
          caFile == null ? null : Files.readAllBytes(caFile));
    } catch (IOException e) {
      return "unreadable: " + e;
    }
  }

  private static String digest(byte[] cert, byte[] key, byte[] ca) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(cert);
      md.update(key);
      if (ca != null) {
        md.update(ca);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** The certificate and key as Vert.x options. */
  public PemKeyCertOptions keyCert() {
    return keyCert(cert.getBytes(), key.getBytes());
  }

  /** The CA certificates as Vert.x trust options, or null without a CA. */
  public PemTrustOptions trust() {
    return ca == null ? null : new PemTrustOptions().addCertValue(ca);
  }

  /** Whether a peer's certificate is asked for and checked. */
  public boolean mutual() {
    return ca != null;
  }

  @Override
  public String toString() {
    return "PemCredentials[serial=" + serial + ", mutual=" + mutual() + "]";
  }

  private static PemKeyCertOptions keyCert(byte[] cert, byte[] key) {
    return new PemKeyCertOptions().setCertValue(Buffer.buffer(cert)).setKeyValue(Buffer.buffer(key));
  }

  private static byte[] bytes(Path file, String setting) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(setting + ": cannot read " + file + " (" + e.getClass().getSimpleName()
          + "): give a readable PEM file");
    }
  }

  private static List<X509Certificate> certificates(byte[] pem, Path file, String setting) {
    List<X509Certificate> out = new ArrayList<>();
    try {
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem))) {
        out.add((X509Certificate) c);
      }
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new ConfigException(setting + ": " + file + " is not a PEM certificate (\"BEGIN CERTIFICATE\"): "
          + e.getMessage());
    }
    if (out.isEmpty()) {
      throw new ConfigException(setting + ": " + file + " holds no PEM certificate (\"BEGIN CERTIFICATE\")");
    }
    return out;
  }

  /** Signs a few bytes with the key and checks them with the certificate: true when they belong together. */
  private static boolean matches(PrivateKey key, X509Certificate cert) {
    String algorithm = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> null;
    };
    if (algorithm == null) {
      return true; // a kind of key this check does not know: the handshake will tell
    }
    try {
      byte[] probe = "snakepit key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance(algorithm);
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(algorithm);
      v.initVerify(cert.getPublicKey());
      v.update(probe);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
