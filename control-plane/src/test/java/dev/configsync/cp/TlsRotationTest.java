package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rotated certificate files are used for new connections without a restart. */
class TlsRotationTest {
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  @TempDir Path dir;

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private void write(HeldCertificate cert, boolean withKey) throws Exception {
    Files.writeString(dir.resolve("cp.crt"), cert.certificatePem());
    if (withKey) {
      Files.writeString(dir.resolve("cp.key"), cert.privateKeyPkcs8Pem());
    }
  }

  private BigInteger servedSerial() throws Exception {
    try (RawDataPlane dp = RawDataPlane.connect(f.dataPlaneTls(), f.address(), "0.1.0")) {
      return ((X509Certificate) dp.socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }
  }

  @Test
  void newConnectionsGetTheRotatedCertificateAndAHalfRotationKeepsTheOldOne() throws Exception {
    HeldCertificate first = f.pki.issue("cp-first", Duration.ofDays(1));
    write(first, true);
    Files.writeString(dir.resolve("ca.crt"), f.pki.ca().certificatePem());
    f.start(
        b ->
            b.tls(
                    ServerTls.pki(
                        dir.resolve("cp.crt"), dir.resolve("cp.key"), dir.resolve("ca.crt")))
                .tlsReloadInterval(Duration.ofMillis(50)));
    assertThat(servedSerial()).isEqualTo(first.certificate().getSerialNumber());

    HeldCertificate second = f.pki.issue("cp-second", Duration.ofDays(1));
    write(second, true);
    await().until(() -> servedSerial().equals(second.certificate().getSerialNumber()));

    // A certificate without its key yet: unusable, so the previous pair stays in use.
    HeldCertificate third = f.pki.issue("cp-third", Duration.ofDays(1));
    write(third, false);
    await()
        .during(Duration.ofMillis(300))
        .until(() -> servedSerial().equals(second.certificate().getSerialNumber()));
    Files.writeString(dir.resolve("cp.key"), third.privateKeyPkcs8Pem());
    await().until(() -> servedSerial().equals(third.certificate().getSerialNumber()));
  }
}
