package dev.configsync.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Certificate files replaced on disk are used from the next connection on, without a restart. */
class TlsRotationTest {
  private final TestPki pki = TestPki.create();
  private final TestControlPlane cp = TestControlPlane.start(pki);
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private ConfigSyncClient client;

  @TempDir Path dir;

  @AfterEach
  void stop() {
    if (client != null) {
      client.close();
    }
    cp.close();
  }

  /** Replaces a file the way rotation tools do: a new file renamed over the old one. */
  private Path replace(String name, String content) throws IOException {
    Path temp = Files.writeString(dir.resolve(name + ".new"), content, StandardCharsets.US_ASCII);
    return Files.move(
        temp,
        dir.resolve(name),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  private OkHttpTransport connectWith(HeldCertificate first) throws IOException {
    Path cert = replace("dp.crt", first.certificatePem());
    Path key = replace("dp.key", first.privateKeyPkcs8Pem());
    Path ca = replace("ca.crt", pki.ca().certificatePem());
    OkHttpTransport transport = OkHttpTransport.create(TlsConfig.pki(cert, key, ca));
    client =
        ConfigSyncClient.builder()
            .controlPlane(cp.uri())
            .transport(transport)
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(100))
            .onEvent(events::add)
            .build();
    client.start();
    awaitPresented(first);
    return transport;
  }

  /** Waits until the control plane's only connection presents {@code certificate}. */
  private void awaitPresented(HeldCertificate certificate) {
    String subject = certificate.certificate().getSubjectX500Principal().getName();
    await()
        .until(
            () ->
                cp.connectedNodes().size() == 1
                    && cp.connectedNodes().get(0).clientCertificateSubject().equals(subject));
  }

  private long connectedEvents() {
    return events.stream().filter(SyncEvent.Connected.class::isInstance).count();
  }

  /** Drops the connection and waits for the node to be connected again, on a new connection. */
  private void reconnect() {
    int before = cp.connectionCount();
    long connected = connectedEvents();
    cp.dropConnections();
    await()
        .until(
            () ->
                cp.connectionCount() > before
                    && connectedEvents() > connected
                    && cp.connectedNodes().size() == 1);
  }

  @Test
  void rotatedCertificateIsPresentedOnTheNextConnection() throws IOException {
    HeldCertificate a = pki.issue("dp-a", Duration.ofDays(1));
    HeldCertificate b = pki.issue("dp-b", Duration.ofDays(1));
    OkHttpTransport transport = connectWith(a);

    replace("dp.key", b.privateKeyPkcs8Pem());
    replace("dp.crt", b.certificatePem());
    // The open connection keeps the certificate it was opened with.
    assertThat(cp.connectedNodes().get(0).clientCertificateSubject()).isEqualTo("CN=dp-a");

    reconnect();
    awaitPresented(b);
    assertThat(transport.tls().certificateChain()).containsExactly(b.certificate());
    assertThat(b.certificate().getSerialNumber()).isNotEqualTo(a.certificate().getSerialNumber());
  }

  @Test
  void halfDoneRotationKeepsThePreviousCertificateUntilItIsComplete() throws IOException {
    HeldCertificate a = pki.issue("dp-a", Duration.ofDays(1));
    HeldCertificate c = pki.issue("dp-c", Duration.ofDays(1));
    OkHttpTransport transport = connectWith(a);

    replace("dp.crt", c.certificatePem()); // the key is not replaced yet
    reconnect();
    awaitPresented(a);
    assertThat(transport.tls().certificateChain()).containsExactly(a.certificate());

    replace("dp.key", c.privateKeyPkcs8Pem()); // now it is
    reconnect();
    awaitPresented(c);
    assertThat(transport.tls().certificateChain()).containsExactly(c.certificate());
  }

  @Test
  void rotationAlsoWorksInSharedMode() throws IOException {
    HeldCertificate cluster1 = new HeldCertificate.Builder().commonName("kong_clustering").build();
    HeldCertificate cluster2 = new HeldCertificate.Builder().commonName("kong_clustering").build();
    // A shared-mode control plane that accepts either cluster certificate while it is rotated,
    // and presents the second one.
    try (TestControlPlane shared =
        TestControlPlane.start(
            new okhttp3.tls.HandshakeCertificates.Builder()
                .heldCertificate(cluster2)
                .addTrustedCertificate(cluster1.certificate())
                .addTrustedCertificate(cluster2.certificate())
                .build())) {
      Path cert = replace("cluster.crt", cluster1.certificatePem());
      Path key = replace("cluster.key", cluster1.privateKeyPkcs8Pem());
      client =
          ConfigSyncClient.builder()
              .controlPlane(shared.uri())
              .transport(OkHttpTransport.create(TlsConfig.shared(cert, key)))
              .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(100))
              .onEvent(events::add)
              .build();
      client.start();
      // The node pins cluster1, the control plane presents cluster2: refused.
      await()
          .until(
              () ->
                  events.stream()
                      .anyMatch(
                          e ->
                              e instanceof SyncEvent.Disconnected d
                                  && d.reason().contains("does not match the shared cluster")));
      assertThat(shared.connectionCount()).isZero();

      replace("cluster.key", cluster2.privateKeyPkcs8Pem());
      replace("cluster.crt", cluster2.certificatePem());
      // Picked up on the next attempt, without a restart.
      await().until(() -> shared.connectedNodes().size() == 1);
    }
  }
}
