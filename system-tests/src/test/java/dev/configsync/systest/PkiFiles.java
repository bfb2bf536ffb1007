package dev.configsync.systest;

import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;

/**
 * A throwaway PKI ({@link TestPki}) written to PEM files, as the binaries take them: the CA, the
 * control plane's certificate (names {@code localhost} and {@code 127.0.0.1}) and one certificate
 * per node or client. Keys are written mode 0600, as an operator keeps them.
 */
final class PkiFiles {
  /** A certificate and its key, as files. */
  record Pair(Path cert, Path key, HeldCertificate held) {}

  private final TestPki pki;
  private final Path dir;
  private final Path ca;
  private final Pair server;

  private PkiFiles(TestPki pki, Path dir) {
    this.pki = pki;
    this.dir = dir;
    this.ca = write("ca.crt", pki.ca().certificatePem());
    this.server = pair("server", pki.controlPlaneCertificate());
  }

  /** A new CA named {@code name}, its files in {@code dir}. */
  static PkiFiles create(String name, Path dir) {
    return new PkiFiles(TestPki.create(name), dir);
  }

  /** The CA certificate file. */
  Path ca() {
    return ca;
  }

  /** The server certificate (the control plane's, or an etcd member's) and key. */
  Pair server() {
    return server;
  }

  /** Issues a certificate for {@code name}, valid for a day, and writes it and its key. */
  Pair issue(String name) {
    return pair(name, pki.issue(name, Duration.ofDays(1)));
  }

  /**
   * Client TLS presenting {@code client} and trusting only this CA, for the tests' own clients (a
   * hostile node, the etcd history reader).
   */
  SSLContext clientContext(Pair client) {
    return new HandshakeCertificates.Builder()
        .heldCertificate(client.held())
        .addTrustedCertificate(pki.ca().certificate())
        .build()
        .sslContext();
  }

  private Pair pair(String name, HeldCertificate held) {
    Path cert = write(name + ".crt", held.certificatePem());
    Path key = write(name + ".key", held.privateKeyPkcs8Pem());
    return new Pair(cert, key, held);
  }

  private Path write(String name, String pem) {
    Path file = dir.resolve(name);
    try {
      Files.createDirectories(dir);
      Files.writeString(file, pem, StandardCharsets.US_ASCII);
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return file;
  }
}
