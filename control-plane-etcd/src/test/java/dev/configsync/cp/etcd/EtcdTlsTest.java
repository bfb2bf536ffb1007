package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store against a real etcd member that serves its client URL over TLS and requires a client
 * certificate ({@code --client-cert-auth}): certificates from a test CA written to PEM files, read
 * by {@link EtcdConfigStore.Builder#tls(Path, Path, Path)}.
 */
class EtcdTlsTest {
  /**
   * A request timeout no loaded machine reaches: the verdict must come from the TLS refusal itself,
   * which ends the call at once (issue 15: with 300 ms, a busy machine timed out first).
   */
  private static final Duration GENEROUS = Duration.ofSeconds(60);

  @TempDir static Path dir;

  private static TestPki pki;
  private static EtcdCluster etcd;
  private static Path ca;
  private static Path clientCert;
  private static Path clientKey;

  private final List<EtcdConfigStore> stores = new ArrayList<>();

  @BeforeAll
  static void startEtcdWithTls() throws IOException {
    EtcdCluster.requireEtcd();
    pki = TestPki.create("etcd");
    HeldCertificate server = pki.issue("etcd", Duration.ofDays(1)); // localhost, 127.0.0.1
    HeldCertificate client = pki.issue("cp-replica", Duration.ofDays(1));
    ca = write("ca.crt", pki.ca().certificatePem());
    Path serverCert = write("etcd.crt", server.certificatePem());
    Path serverKey = write("etcd.key", server.privateKeyPkcs8Pem());
    clientCert = write("client.crt", client.certificatePem());
    clientKey = write("client.key", client.privateKeyPkcs8Pem());
    HandshakeCertificates fixture =
        new HandshakeCertificates.Builder()
            .heldCertificate(client, pki.ca().certificate())
            .addTrustedCertificate(pki.ca().certificate())
            .build();
    etcd =
        EtcdCluster.startTls(
            1, new EtcdCluster.ServerTls(serverCert, serverKey, ca), fixture.sslContext());
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  @AfterEach
  void closeStores() {
    stores.forEach(EtcdConfigStore::close);
  }

  private static Path write(String name, String pem) throws IOException {
    return Files.writeString(dir.resolve(name), pem, StandardCharsets.US_ASCII);
  }

  private EtcdConfigStore store(String name, EtcdConfigStore.Builder b) {
    return store(name, b, GENEROUS);
  }

  private EtcdConfigStore store(String name, EtcdConfigStore.Builder b, Duration timeout) {
    EtcdConfigStore store =
        b.endpoints(etcd.endpoints())
            .prefix("/tls/")
            .replicaName(name)
            .leaseTtl(Duration.ofSeconds(2))
            .requestTimeout(timeout)
            .unavailableAfter(timeout.plusSeconds(1)) // the builder wants it above requestTimeout
            .flushInterval(Duration.ofMillis(100))
            .build();
    stores.add(store);
    return store;
  }

  @Test
  void replicasPublishWatchAndShareOverMutualTls() throws Exception {
    assertThat(etcd.endpoints()).allSatisfy(e -> assertThat(e.getScheme()).isEqualTo("https"));
    EtcdConfigStore a = store("a", EtcdConfigStore.builder().tls(ca, clientCert, clientKey));
    EtcdConfigStore b = store("b", EtcdConfigStore.builder().tls(ca, clientCert, clientKey));
    String first = "11111111111111111111111111111111";
    String second = "22222222222222222222222222222222";

    assertThat(a.load()).isEmpty();
    a.save(TestFrames.reconfigure(first), first, null); // a compare-and-set transaction
    Optional<byte[]> loaded = b.load();
    assertThat(loaded).isPresent();
    List<String> seenByB = new CopyOnWriteArrayList<>();
    b.watch((payload, hash, revision) -> seenByB.add(hash)); // a streaming watch, over TLS too
    a.save(TestFrames.reconfigure(second), second, first);
    a.aggregate("probe").set(EtcdSession.JSON.createObjectNode().put("n", 3)); // lease, puts

    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Map<String, JsonNode> seen = b.aggregate("probe").byReplica();
              return seenByB.contains(second) && seen.containsKey("a");
            });
    assertThat(b.aggregate("probe").byReplica().get("a").path("n").asInt()).isEqualTo(3);
    assertThat(etcd.keys("/tls/replicas/")).contains("/tls/replicas/a", "/tls/replicas/b");
    assertThat(a.unavailable()).isEmpty();
  }

  @Test
  void withoutAClientCertificateOrTrustingAnotherCaNothingIsRead() throws Exception {
    EtcdConfigStore noClientCert = store("n", EtcdConfigStore.builder().tls(ca), GENEROUS);
    assertThatThrownBy(noClientCert::load)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("cannot read the configuration from etcd")
        .hasMessageContaining("refused the TLS handshake");

    TestPki other = TestPki.create("other");
    Path otherCa = write("other-ca.crt", other.ca().certificatePem());
    EtcdConfigStore wrongCa =
        store("w", EtcdConfigStore.builder().tls(otherCa, clientCert, clientKey), GENEROUS);
    assertThatThrownBy(wrongCa::load)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("cannot read the configuration from etcd")
        .hasMessageContaining("refused the TLS handshake")
        .hasStackTraceContaining("PKIX");
  }

  @Test
  void tlsWithAPlainHttpEndpointOrUnusableFilesIsRefusedAtOnce() {
    URI plain = URI.create("http://127.0.0.1:" + etcd.endpoint(0).getPort());
    assertThatThrownBy(
            () ->
                EtcdConfigStore.builder()
                    .endpoints(List.of(plain))
                    .tls(ca, clientCert, clientKey)
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is not https://");
    Path missing = dir.resolve("missing.crt");
    assertThatThrownBy(() -> EtcdConfigStore.builder().tls(missing))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(missing.toString());
    assertThatThrownBy(() -> EtcdConfigStore.builder().tls(ca, clientCert, ca))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(ca.toString());
  }
}
