package dev.configsync.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.X509ExtendedTrustManager;
import org.junit.jupiter.api.Test;

class PeerTrustTest {
  private static final TestCertificates CA = TestCertificates.ca("test-ca");
  private static final TestCertificates OTHER_CA = TestCertificates.ca("other-ca");

  private static X509Certificate[] chain(TestCertificates... certificates) {
    X509Certificate[] chain = new X509Certificate[certificates.length];
    for (int i = 0; i < certificates.length; i++) {
      chain[i] = certificates[i].certificate();
    }
    return chain;
  }

  @Test
  void sharedModeAcceptsExactlyTheClusterCertificate() {
    TestCertificates cluster =
        TestCertificates.selfSigned(
            "kong_clustering", Instant.now().minusSeconds(60), Duration.ofDays(1));
    X509ExtendedTrustManager trust = PeerTrust.sharedCertificate(cluster.certificate());

    assertThatCode(() -> trust.checkServerTrusted(chain(cluster), "ECDHE_ECDSA"))
        .doesNotThrowAnyException();
    assertThatCode(() -> trust.checkClientTrusted(chain(cluster), "EC")).doesNotThrowAnyException();
    assertThat(trust.getAcceptedIssuers()).containsExactly(cluster.certificate());
  }

  @Test
  void sharedModeRefusesAnotherCertificateNamingBothDigests() {
    TestCertificates cluster =
        TestCertificates.selfSigned(
            "kong_clustering", Instant.now().minusSeconds(60), Duration.ofDays(1));
    // Same name, other key: only the digest tells them apart.
    TestCertificates other =
        TestCertificates.selfSigned(
            "kong_clustering", Instant.now().minusSeconds(60), Duration.ofDays(1));
    X509ExtendedTrustManager trust = PeerTrust.sharedCertificate(cluster.certificate());

    assertThatThrownBy(() -> trust.checkServerTrusted(chain(other), "ECDHE_ECDSA"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith(
            "control plane certificate does not match the shared cluster certificate (sha256 "
                + PemMaterial.sha256Fingerprint(other.certificate()))
        .hasMessageContaining(
            "expected sha256 " + PemMaterial.sha256Fingerprint(cluster.certificate()));
    assertThatThrownBy(() -> trust.checkClientTrusted(chain(other), "EC"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith(
            "data plane certificate does not match the shared cluster certificate (sha256 ");
    // A certificate issued by the cluster certificate's key is still not the cluster certificate.
    TestCertificates issued = cluster.issue("kong_clustering");
    assertThatThrownBy(() -> trust.checkServerTrusted(chain(issued, cluster), "ECDHE_ECDSA"))
        .hasMessageStartingWith("control plane certificate does not match");
    assertThatThrownBy(() -> trust.checkServerTrusted(new X509Certificate[0], "ECDHE_ECDSA"))
        .hasMessage("the control plane presented no certificate");
  }

  @Test
  void sharedModeStillChecksTheValidityDates() {
    TestCertificates expired =
        TestCertificates.selfSigned(
            "kong_clustering", Instant.now().minus(Duration.ofDays(3)), Duration.ofDays(1));
    assertThatThrownBy(
            () ->
                PeerTrust.sharedCertificate(expired.certificate())
                    .checkServerTrusted(chain(expired), "ECDHE_ECDSA"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith(
            "the control plane's certificate (the shared cluster certificate) expired at "
                + expired.certificate().getNotAfter().toInstant())
        .hasMessageContaining("this machine's clock is wrong");

    TestCertificates future =
        TestCertificates.selfSigned(
            "kong_clustering", Instant.now().plus(Duration.ofDays(2)), Duration.ofDays(1));
    assertThatThrownBy(
            () ->
                PeerTrust.sharedCertificate(future.certificate())
                    .checkClientTrusted(chain(future), "EC"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith(
            "the data plane's certificate (the shared cluster certificate) is not valid before "
                + future.certificate().getNotBefore().toInstant());
  }

  @Test
  void pkiModeAcceptsACertificateFromTheCa() {
    X509ExtendedTrustManager trust = PeerTrust.certificateAuthorities(List.of(CA.certificate()));
    TestCertificates cp = CA.issue("control-plane");
    assertThatCode(() -> trust.checkServerTrusted(chain(cp), "ECDHE_ECDSA"))
        .doesNotThrowAnyException();
    assertThatCode(() -> trust.checkClientTrusted(chain(cp), "EC")).doesNotThrowAnyException();
    assertThat(trust.getAcceptedIssuers()).containsExactly(CA.certificate());
  }

  @Test
  void pkiModeRefusesAnotherCaSayingWhichCasAreTrusted() {
    X509ExtendedTrustManager trust = PeerTrust.certificateAuthorities(List.of(CA.certificate()));
    TestCertificates impostor = OTHER_CA.issue("control-plane");
    assertThatThrownBy(() -> trust.checkServerTrusted(chain(impostor), "ECDHE_ECDSA"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith(
            "the control plane's certificate is not issued by a CA this node trusts (subject"
                + " 'CN=control-plane', issuer 'CN=other-ca'")
        .hasMessageContaining("trusted CAs: 'CN=test-ca'");
    assertThatThrownBy(() -> trust.checkClientTrusted(chain(impostor), "EC"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith(
            "the data plane's certificate is not issued by a CA the control plane trusts");
  }

  @Test
  void pkiModeExplainsDatesBeforeTheChain() {
    X509ExtendedTrustManager trust = PeerTrust.certificateAuthorities(List.of(CA.certificate()));
    TestCertificates expired =
        CA.issue("control-plane", Instant.now().minus(Duration.ofDays(3)), Duration.ofDays(1));
    assertThatThrownBy(() -> trust.checkServerTrusted(chain(expired), "ECDHE_ECDSA"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith("the control plane's certificate expired at ");
    TestCertificates future =
        CA.issue("data-plane", Instant.now().plus(Duration.ofDays(2)), Duration.ofDays(1));
    assertThatThrownBy(() -> trust.checkClientTrusted(chain(future), "EC"))
        .isInstanceOf(CertificateRefusedException.class)
        .hasMessageStartingWith("the data plane's certificate is not valid before ");
  }

  @Test
  void noCaIsRefused() {
    assertThatThrownBy(() -> PeerTrust.certificateAuthorities(List.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
