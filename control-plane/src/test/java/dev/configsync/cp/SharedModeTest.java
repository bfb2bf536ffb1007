package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.SyncEvent;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Shared mode: the control plane accepts only the one certificate the cluster shares. */
class SharedModeTest {
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final HeldCertificate shared =
      new HeldCertificate.Builder()
          .commonName("kong_clustering")
          .addSubjectAlternativeName("localhost")
          .duration(1, java.util.concurrent.TimeUnit.DAYS)
          .build();

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private void startShared() throws Exception {
    f.start(
        b ->
            b.tls(ServerTls.sharedFromPem(shared.certificatePem(), shared.privateKeyPkcs8Pem()))
                .heartbeatInterval(Duration.ofSeconds(2)));
    assertThat(f.cp.tls().mode()).isEqualTo(ServerTls.Mode.SHARED);
  }

  /** A node presenting {@code client} and pinning the shared certificate as its only trust. */
  private static TlsConfig nodeTls(HeldCertificate client, HeldCertificate trusted) {
    return TlsConfig.pkiFromPem(
        client.certificatePem(), client.privateKeyPkcs8Pem(), trusted.certificatePem());
  }

  @Test
  void acceptsANodePresentingTheSharedCertificate() throws Exception {
    startShared();
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    // The data plane's own shared mode: presents the cluster certificate, pins the same one.
    TlsConfig sharedNode =
        TlsConfig.sharedFromPem(shared.certificatePem(), shared.privateKeyPkcs8Pem());
    f.startClient(OkHttpTransport.create(sharedNode), c -> c, snapshots, events);
    PublishResult published = f.cp.publish("{\"services\":[]}");
    await().until(() -> snapshots.stream().anyMatch(s -> s.hash().equals(published.hash())));
  }

  @Test
  void refusesANodeWithAnyOtherCertificateEvenFromATrustedLookingCa() throws Exception {
    startShared();
    HeldCertificate other = f.pki.issue("data-plane", Duration.ofDays(1));
    assertThatThrownBy(
            () -> {
              try (RawDataPlane dp =
                  RawDataPlane.connect(nodeTls(other, shared), f.address(), "0.1.0")) {
                // With TLS 1.3 a refused client certificate shows on the first read.
                dp.sendBasicInfo(java.util.Map.of());
                dp.read();
              }
            })
        .isInstanceOf(java.io.IOException.class);
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    f.startClient(OkHttpTransport.create(nodeTls(other, shared)), c -> c, snapshots, events);
    await()
        .until(
            () ->
                events.stream()
                    .anyMatch(e -> e instanceof SyncEvent.Disconnected d && !d.reason().isEmpty()));
    assertThat(f.cp.dataPlanes()).isEmpty();
    assertThat(snapshots).isEmpty();
  }

  @Test
  void aNodeWithItsOwnCertificateInSharedModeIsRefusedOnBothSides() throws Exception {
    startShared();
    HeldCertificate own =
        new HeldCertificate.Builder()
            .commonName("kong_clustering")
            .duration(1, java.util.concurrent.TimeUnit.DAYS)
            .build();
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    f.startClient(
        OkHttpTransport.create(
            TlsConfig.sharedFromPem(own.certificatePem(), own.privateKeyPkcs8Pem())),
        c -> c,
        snapshots,
        events);
    await()
        .until(
            () ->
                events.stream()
                    .anyMatch(
                        e ->
                            e instanceof SyncEvent.Disconnected d
                                && d.reason().contains("shared cluster certificate")));
    assertThat(f.cp.dataPlanes()).isEmpty();
  }

  @Test
  void sharedModeRefusesAKeyThatIsNotTheCertificates() {
    HeldCertificate another = new HeldCertificate.Builder().commonName("x").build();
    assertThatThrownBy(
            () -> ServerTls.sharedFromPem(shared.certificatePem(), another.privateKeyPkcs8Pem()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("do not match");
  }
}
