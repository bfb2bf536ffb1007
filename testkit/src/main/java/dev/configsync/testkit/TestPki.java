package dev.configsync.testkit;

import dev.configsync.okhttp.TlsConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;

/**
 * A throwaway public-key infrastructure for tests: one certificate authority that issues control
 * plane and data plane certificates, all in memory, valid for a day (or as asked).
 *
 * <pre>{@code
 * TestPki pki = TestPki.create();
 * TestControlPlane cp = TestControlPlane.start(pki);
 * TlsConfig dpTls = pki.dataPlaneTls();
 * }</pre>
 */
public final class TestPki {
  private static final AtomicInteger SERIAL = new AtomicInteger(1);

  private final HeldCertificate ca;
  private final HeldCertificate controlPlane;

  private TestPki(String name) {
    this.ca =
        new HeldCertificate.Builder()
            .certificateAuthority(0)
            .commonName(name + " test CA")
            .serialNumber(SERIAL.getAndIncrement())
            .duration(1, java.util.concurrent.TimeUnit.DAYS)
            .build();
    this.controlPlane = issue("control-plane", Duration.ofDays(1));
  }

  /** A new CA with a control-plane certificate for {@code localhost} and {@code 127.0.0.1}. */
  public static TestPki create() {
    return new TestPki("configsync");
  }

  /** A new CA with its own name, for tests that need two unrelated authorities. */
  public static TestPki create(String name) {
    return new TestPki(Objects.requireNonNull(name, "name"));
  }

  /** The CA certificate. */
  public HeldCertificate ca() {
    return ca;
  }

  /** The control plane's certificate (names: localhost, 127.0.0.1). */
  public HeldCertificate controlPlaneCertificate() {
    return controlPlane;
  }

  /** Issues a certificate from this CA, valid for {@code validity} from now. */
  public HeldCertificate issue(String commonName, Duration validity) {
    return new HeldCertificate.Builder()
        .signedBy(ca)
        .commonName(commonName)
        .addSubjectAlternativeName("localhost")
        .addSubjectAlternativeName("127.0.0.1")
        .serialNumber(SERIAL.getAndIncrement())
        .duration(validity.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
        .build();
  }

  /** TLS for a data plane: a fresh client certificate from this CA, trusting this CA. */
  public TlsConfig dataPlaneTls() {
    return dataPlaneTls(issue("data-plane", Duration.ofDays(1)));
  }

  /** TLS for a data plane presenting {@code clientCertificate}, trusting this CA. */
  public TlsConfig dataPlaneTls(HeldCertificate clientCertificate) {
    return TlsConfig.pkiFromPem(
        clientCertificate.certificatePem(),
        clientCertificate.privateKeyPkcs8Pem(),
        ca.certificatePem());
  }

  /** The server side of the control plane's TLS: its certificate, trusting this CA's clients. */
  public HandshakeCertificates controlPlaneHandshake() {
    return new HandshakeCertificates.Builder()
        .heldCertificate(controlPlane, ca.certificate())
        .addTrustedCertificate(ca.certificate())
        .build();
  }

  /**
   * Writes a data plane's PEM files ({@code dp.crt}, {@code dp.key}, {@code ca.crt}) into {@code
   * directory}, for tools that take file names, and returns the directory.
   */
  public Path writeDataPlaneFiles(Path directory) {
    HeldCertificate dp = issue("data-plane", Duration.ofDays(1));
    try {
      Files.createDirectories(directory);
      Files.writeString(
          directory.resolve("dp.crt"), dp.certificatePem(), StandardCharsets.US_ASCII);
      Files.writeString(
          directory.resolve("dp.key"), dp.privateKeyPkcs8Pem(), StandardCharsets.US_ASCII);
      Files.writeString(
          directory.resolve("ca.crt"), ca.certificatePem(), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return directory;
  }
}
