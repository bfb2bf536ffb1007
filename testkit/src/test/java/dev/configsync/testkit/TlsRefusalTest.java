package dev.configsync.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.tls.PemMaterial;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every TLS refusal over real sockets: the node gets a Disconnected event whose reason says what is
 * wrong and what to check, never connects, and keeps serving the configuration it has.
 */
class TlsRefusalTest {
  private static final String FALLBACK = "{\"services\":[{\"name\":\"fallback\"}]}";

  private final TestPki pki = TestPki.create();
  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private final List<TestControlPlane> controlPlanes = new ArrayList<>();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();

  @TempDir Path dir;

  @AfterEach
  void stop() {
    clients.forEach(ConfigSyncClient::close);
    controlPlanes.forEach(TestControlPlane::close);
  }

  private TestControlPlane controlPlane(HandshakeCertificates serverTls) {
    TestControlPlane cp = TestControlPlane.start(serverTls);
    controlPlanes.add(cp);
    return cp;
  }

  /** A control plane presenting {@code certificate} and trusting {@code pki}'s CA for clients. */
  private TestControlPlane controlPlane(HeldCertificate certificate) {
    return controlPlane(
        new HandshakeCertificates.Builder()
            .heldCertificate(certificate)
            .addTrustedCertificate(pki.ca().certificate())
            .build());
  }

  private HeldCertificate issued(String name, Instant notBefore, Instant notAfter) {
    return new HeldCertificate.Builder()
        .signedBy(pki.ca())
        .commonName(name)
        .addSubjectAlternativeName("localhost")
        .addSubjectAlternativeName("127.0.0.1")
        .validityInterval(notBefore.toEpochMilli(), notAfter.toEpochMilli())
        .build();
  }

  private ConfigSyncClient start(URI uri, TlsConfig tls) throws IOException {
    Path fallback = Files.writeString(dir.resolve("fallback.json"), FALLBACK);
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(uri)
            .transport(OkHttpTransport.create(tls))
            .fallbackConfig(fallback)
            .reconnectDelay(Duration.ofMillis(200), Duration.ofMillis(300))
            .onEvent(events::add)
            .build();
    clients.add(client);
    client.start();
    return client;
  }

  /** The first disconnect reason, after checking that the node keeps serving its fallback. */
  private String refusal(ConfigSyncClient client) {
    await().until(() -> firstReason().isPresent());
    String reason = firstReason().orElseThrow();
    assertThat(client.status().state()).isNotEqualTo(SyncState.CONNECTED);
    assertThat(events).noneMatch(SyncEvent.Connected.class::isInstance);
    assertThat(client.isServing()).isTrue();
    assertThat(client.current()).map(ConfigSnapshot::source).contains(SnapshotSource.FALLBACK);
    return reason;
  }

  private Optional<String> firstReason() {
    return events.stream()
        .filter(SyncEvent.Disconnected.class::isInstance)
        .map(e -> ((SyncEvent.Disconnected) e).reason())
        .findFirst();
  }

  private static TlsConfig tls(HeldCertificate client, HeldCertificate ca) {
    return TlsConfig.pkiFromPem(
        client.certificatePem(), client.privateKeyPkcs8Pem(), ca.certificatePem());
  }

  // ---- the control plane's certificate --------------------------------------------------

  @Test
  void expiredControlPlaneCertificate() throws IOException {
    Instant now = Instant.now();
    HeldCertificate expired =
        issued("control-plane", now.minus(Duration.ofDays(3)), now.minus(Duration.ofDays(1)));
    TestControlPlane cp = controlPlane(expired);
    String reason = refusal(start(cp.uri(), pki.dataPlaneTls()));
    assertThat(reason)
        .contains("TLS with the control plane at localhost:" + cp.port() + " failed")
        .contains(
            "the control plane's certificate expired at "
                + expired.certificate().getNotAfter().toInstant())
        .contains("subject 'CN=control-plane'")
        .contains("it must be renewed");
  }

  @Test
  void notYetValidControlPlaneCertificate() throws IOException {
    Instant now = Instant.now();
    HeldCertificate future =
        issued("control-plane", now.plus(Duration.ofDays(1)), now.plus(Duration.ofDays(2)));
    TestControlPlane cp = controlPlane(future);
    String reason = refusal(start(cp.uri(), pki.dataPlaneTls()));
    assertThat(reason)
        .contains(
            "the control plane's certificate is not valid before "
                + future.certificate().getNotBefore().toInstant())
        .contains("check the clocks");
  }

  @Test
  void controlPlaneCertificateFromAnotherCa() throws IOException {
    TestPki other = TestPki.create("rogue");
    TestControlPlane cp = controlPlane(other.controlPlaneHandshake());
    String reason = refusal(start(cp.uri(), pki.dataPlaneTls()));
    assertThat(reason)
        .contains("the control plane's certificate is not issued by a CA this node trusts")
        .contains("issuer 'CN=rogue test CA'")
        .contains("trusted CAs: 'CN=configsync test CA'")
        .contains("check the CA file");
  }

  @Test
  void wrongServerName() throws IOException {
    TestControlPlane cp = controlPlane(pki.controlPlaneHandshake());
    // The certificate names localhost and 127.0.0.1.
    String reason =
        refusal(
            start(
                URI.create("wss://127.0.0.1:" + cp.port()),
                pki.dataPlaneTls().withServerName("cp.example.com")));
    assertThat(reason)
        .contains("the control plane's certificate is not valid for the name 'cp.example.com'")
        .contains("subjectAltNames: [127.0.0.1, localhost]")
        .contains("--server-name");
  }

  // ---- this node's certificate, as the control plane sees it ----------------------------

  @Test
  void expiredClientCertificateIsRefusedByTheControlPlane() throws IOException {
    Instant now = Instant.now();
    HeldCertificate expired =
        issued("data-plane", now.minus(Duration.ofDays(3)), now.minus(Duration.ofDays(1)));
    TestControlPlane cp = controlPlane(pki.controlPlaneHandshake());
    String reason = refusal(start(cp.uri(), tls(expired, pki.ca())));
    // Whether the node reads the control plane's alert, or fails writing first, is timing.
    assertThat(reason)
        .containsAnyOf(
            "the control plane refused this node's certificate (TLS alert",
            "the control plane closed the connection during the TLS handshake",
            "the control plane closed the connection right after the TLS handshake")
        .contains("refused this node's certificate")
        .contains(
            "note that this node's certificate expired at "
                + expired.certificate().getNotAfter().toInstant());
    assertThat(cp.connectionCount()).isZero();
  }

  @Test
  void clientCertificateFromAnotherCaIsRefusedByTheControlPlane() throws IOException {
    TestPki other = TestPki.create("rogue");
    TestControlPlane cp = controlPlane(pki.controlPlaneHandshake());
    // Trusts the right CA, but holds a certificate the control plane does not trust.
    String reason = refusal(start(cp.uri(), tls(other.issue("dp", Duration.ofDays(1)), pki.ca())));
    assertThat(reason)
        .contains("refused this node's certificate")
        .contains("check that the control plane trusts the CA that issued this node's certificate")
        .contains("issuer 'CN=rogue test CA'");
    assertThat(cp.connectionCount()).isZero();
  }

  @Test
  void aClientWithoutCertificateIsRefusedByTheControlPlane() throws IOException {
    // A node cannot be configured without a certificate (TlsConfig refuses a certificate file
    // without one); what a control plane must do with such a client is refuse it.
    TestControlPlane cp = controlPlane(pki.controlPlaneHandshake());
    HandshakeCertificates trustOnly =
        new HandshakeCertificates.Builder().addTrustedCertificate(pki.ca().certificate()).build();
    OkHttpClient certless =
        new OkHttpClient.Builder()
            .sslSocketFactory(trustOnly.sslSocketFactory(), trustOnly.trustManager())
            .retryOnConnectionFailure(false)
            .build();
    Request upgrade =
        new Request.Builder()
            .url("https://localhost:" + cp.port() + "/v1/outlet")
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .build();
    assertThatThrownBy(() -> certless.newCall(upgrade).execute().close())
        .isInstanceOf(IOException.class);
    assertThat(cp.connectionCount()).isZero();
    certless.connectionPool().evictAll();
  }

  // ---- shared mode -----------------------------------------------------------------------

  private static HeldCertificate cluster() {
    // As Kong's 'kong hybrid gen_cert' makes it: self-signed, CN kong_clustering, no SAN.
    return new HeldCertificate.Builder().commonName("kong_clustering").build();
  }

  private static HandshakeCertificates sharedServer(
      HeldCertificate presented, HeldCertificate trusted) {
    return new HandshakeCertificates.Builder()
        .heldCertificate(presented)
        .addTrustedCertificate(trusted.certificate())
        .build();
  }

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content, StandardCharsets.US_ASCII);
  }

  @Test
  void sharedModeConnectsByIpAndByNameWithACertificateThatNamesNeither() throws IOException {
    HeldCertificate cluster = cluster();
    TestControlPlane cp = controlPlane(sharedServer(cluster, cluster));
    String hash = cp.publish("{\"services\":[{\"name\":\"shared\"}]}");
    TlsConfig tls =
        TlsConfig.shared(
            write("cluster.crt", cluster.certificatePem()),
            write("cluster.key", cluster.privateKeyPkcs8Pem()));
    assertThat(tls.mode()).isEqualTo(TlsConfig.Mode.SHARED);

    ConfigSyncClient byIp = start(URI.create("wss://127.0.0.1:" + cp.port()), tls);
    ConfigSyncClient byName = start(cp.uri(), tls);
    await().until(() -> hash.equals(byIp.status().hash()) && hash.equals(byName.status().hash()));
    assertThat(cp.connectedNodes())
        .extracting(TestControlPlane.NodeInfo::clientCertificateSubject)
        .containsOnly("CN=kong_clustering");
  }

  @Test
  void sharedModeRefusesAControlPlaneWithAnotherCertificate() throws IOException {
    HeldCertificate mine = cluster();
    HeldCertificate theirs = cluster(); // same name, other key
    TestControlPlane cp = controlPlane(sharedServer(theirs, theirs));
    String reason =
        refusal(
            start(
                cp.uri(),
                TlsConfig.sharedFromPem(mine.certificatePem(), mine.privateKeyPkcs8Pem())));
    assertThat(reason)
        .contains(
            "control plane certificate does not match the shared cluster certificate (sha256 "
                + PemMaterial.sha256Fingerprint(theirs.certificate()))
        .contains("expected sha256 " + PemMaterial.sha256Fingerprint(mine.certificate()));
    assertThat(cp.connectionCount()).isZero();
  }

  @Test
  void sharedModeNodeRefusedByTheControlPlane() throws IOException {
    // The control plane presents this node's cluster certificate but accepts another one for
    // clients: it refuses the node, and the node says what to compare.
    HeldCertificate mine = cluster();
    TestControlPlane cp = controlPlane(sharedServer(mine, cluster()));
    String reason =
        refusal(
            start(
                cp.uri(),
                TlsConfig.sharedFromPem(mine.certificatePem(), mine.privateKeyPkcs8Pem())));
    assertThat(reason)
        .contains("refused this node's certificate")
        .contains(
            "check that this node has the same cluster certificate and key as the control plane"
                + " (this node's: sha256 "
                + PemMaterial.sha256Fingerprint(mine.certificate()));
    assertThat(cp.connectionCount()).isZero();
  }
}
