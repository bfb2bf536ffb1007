package dev.configsync.okhttp;

import static dev.configsync.okhttp.TestPki.ca;
import static dev.configsync.okhttp.TestPki.leafEc;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;

/** The messages for failures that are hard to provoke on demand over a real socket. */
class TlsFailuresTest {
  private static final URI CP = URI.create("wss://cp.example.com:8005/v1/outlet");
  private static final HeldCertificate CA = ca("ca");
  private static final HeldCertificate DP = leafEc("dp", CA);
  private static final TlsConfig TLS =
      TlsConfig.pkiFromPem(DP.certificatePem(), DP.privateKeyPkcs8Pem(), CA.certificatePem());

  private static OkHttpConnection.HandshakePhase phase(boolean started, boolean secured) {
    OkHttpConnection.HandshakePhase phase = new OkHttpConnection.HandshakePhase();
    if (started) {
      phase.secureConnectStart(null);
    }
    if (secured) {
      phase.secureConnectEnd(null, null);
    }
    return phase;
  }

  private static String describe(Throwable failure, boolean started, boolean secured) {
    Throwable described = TlsFailures.describe(failure, CP, TLS, null, phase(started, secured));
    assertThat(described).isInstanceOf(SSLException.class).hasCause(failure);
    return described.getMessage();
  }

  @Test
  void olderTlsVersionsAreNamed() {
    assertThat(
            describe(
                new SSLHandshakeException("Received fatal alert: protocol_version"), true, false))
        .isEqualTo(
            "TLS with the control plane at cp.example.com:8005 failed: the control plane does not"
                + " offer TLS 1.2 or 1.3 (TLS alert protocol_version), and configsync never uses"
                + " older versions; enable TLS 1.2 or 1.3 on the control plane");
    assertThat(
            describe(
                new SSLHandshakeException(
                    "The server selected protocol version TLS11 is not accepted by client"
                        + " preferences [TLS13, TLS12]"),
                true,
                false))
        .contains("the control plane does not offer TLS 1.2 or 1.3")
        .contains("TLS11 is not accepted");
  }

  @Test
  void certificateAlertsSayTheControlPlaneRefusedThisNode() {
    assertThat(
            describe(
                new SSLHandshakeException("Received fatal alert: certificate_expired"), true, true))
        .contains(
            "the control plane refused this node's certificate (TLS alert certificate_expired)")
        .contains("it says the certificate has expired")
        .contains("check that the control plane trusts the CA that issued this node's certificate")
        .doesNotContain("note that"); // this node's certificate is within its dates
    assertThat(
            describe(
                new SSLHandshakeException("Received fatal alert: bad_certificate"), true, false))
        .contains("refused this node's certificate (TLS alert bad_certificate)");
    assertThat(
            describe(
                new SSLHandshakeException("Received fatal alert: handshake_failure"), true, false))
        .contains("no TLS version or cipher suite in common")
        .contains("or it wanted a client certificate it did not accept");
  }

  @Test
  void aConnectionCutDuringOrRightAfterTheHandshakeIsMostLikelyACertificateRefusal() {
    assertThat(describe(new SocketException("Broken pipe"), true, false))
        .contains(
            "the control plane closed the connection during the TLS handshake (Broken pipe): it"
                + " most likely refused this node's certificate; check that the control plane"
                + " trusts the CA");
    // What OkHttp throws when the server closes before answering the upgrade.
    IOException endOfStream =
        new IOException(
            "unexpected end of stream on https://cp.example.com:8005/...",
            new EOFException("\\n not found: limit=0 content=…"));
    assertThat(describe(endOfStream, true, true))
        .contains(
            "the control plane closed the connection right after the TLS handshake, before"
                + " answering the WebSocket upgrade (unexpected end of stream on");
  }

  @Test
  void failuresThatAreNotAboutTlsAreLeftAlone() {
    ConnectException refused = new ConnectException("Connection refused");
    assertThat(TlsFailures.describe(refused, CP, TLS, null, phase(false, false))).isSameAs(refused);
    SocketTimeoutException timeout = new SocketTimeoutException("timeout");
    assertThat(TlsFailures.describe(timeout, CP, TLS, null, phase(true, false))).isSameAs(timeout);
    SocketException beforeTls = new SocketException("Connection reset");
    assertThat(TlsFailures.describe(beforeTls, CP, TLS, null, phase(false, false)))
        .isSameAs(beforeTls);
    // An HTTP answer to the upgrade, after the handshake, is not a certificate problem.
    ProtocolException http =
        new ProtocolException("control plane answered the WebSocket upgrade with HTTP 404");
    assertThat(TlsFailures.describe(http, CP, TLS, null, phase(true, true))).isSameAs(http);
  }

  @Test
  void anExpiredOwnCertificateIsPointedOut() {
    HeldCertificate expired =
        new HeldCertificate.Builder()
            .commonName("dp-old")
            .signedBy(CA)
            .validityInterval(
                Instant.now().minus(Duration.ofDays(3)).toEpochMilli(),
                Instant.now().minus(Duration.ofDays(2)).toEpochMilli())
            .build();
    TlsConfig tls =
        TlsConfig.pkiFromPem(
            expired.certificatePem(), expired.privateKeyPkcs8Pem(), CA.certificatePem());
    Throwable described =
        TlsFailures.describe(
            new SocketException("Connection reset"), CP, tls, null, phase(true, false));
    assertThat(described.getMessage())
        .contains("most likely refused this node's certificate")
        .contains(
            "note that this node's certificate expired at "
                + expired.certificate().getNotAfter().toInstant())
        .contains("renew it (the files are read again before each connection)");
  }

  @Test
  void sharedModeSaysWhichCertificateToCompare() {
    HeldCertificate cluster = new HeldCertificate.Builder().commonName("kong_clustering").build();
    TlsConfig shared =
        TlsConfig.sharedFromPem(cluster.certificatePem(), cluster.privateKeyPkcs8Pem());
    Throwable described =
        TlsFailures.describe(
            new SSLHandshakeException("Received fatal alert: certificate_unknown"),
            CP,
            shared,
            null,
            phase(true, false));
    assertThat(described.getMessage())
        .contains(
            "check that this node has the same cluster certificate and key as the control plane"
                + " (this node's: sha256 "
                + dev.configsync.tls.PemMaterial.sha256Fingerprint(cluster.certificate())
                + ")");
  }

  @Test
  void unusableRotatedFilesAreMentioned() {
    Throwable described =
        TlsFailures.describe(
            new SSLHandshakeException("Received fatal alert: certificate_expired"),
            CP,
            TLS,
            "/etc/dp.crt and /etc/dp.key: cert and key do not match",
            phase(true, true));
    assertThat(described.getMessage())
        .endsWith(
            " (note: the TLS files changed but cannot be used, so the previous certificate was"
                + " presented: /etc/dp.crt and /etc/dp.key: cert and key do not match)");
  }
}
