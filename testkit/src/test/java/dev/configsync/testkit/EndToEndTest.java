package dev.configsync.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigRejectedException;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real data plane against a real control plane: mutual TLS on 127.0.0.1, files on disk. */
class EndToEndTest {
  private static final Duration HEARTBEAT = Duration.ofMillis(200);
  private static final Duration DEAD_AFTER = Duration.ofMillis(300);
  private static final Duration RETRY_MIN = Duration.ofMillis(100);
  private static final Duration RETRY_MAX = Duration.ofMillis(200);

  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private TestControlPlane cp;
  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private final List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private final BlockingQueue<ConfigSnapshot> arrivals = new LinkedBlockingQueue<>();

  @BeforeEach
  void startControlPlane() {
    cp = TestControlPlane.start(pki);
  }

  @AfterEach
  void stopEverything() {
    clients.forEach(ConfigSyncClient::close);
    cp.close();
  }

  private ConfigSyncClient client(TlsConfig tls, Path cacheDir) throws IOException {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(cp.uri())
            .transport(OkHttpTransport.create(tls))
            .snapshotStore(FileSnapshotStore.open(cacheDir))
            .heartbeatInterval(HEARTBEAT)
            .deadAfter(DEAD_AFTER)
            .reconnectDelay(RETRY_MIN, RETRY_MAX)
            .handshakeTimeout(Duration.ofSeconds(5))
            .capability("rate-limiting", "3.9.0")
            .label("region", "test")
            .onSnapshot(snapshots::add)
            .onSnapshot(arrivals::add)
            .onEvent(events::add)
            .build();
    clients.add(client);
    return client;
  }

  private ConfigSyncClient startedClient() throws IOException {
    ConfigSyncClient client = client(pki.dataPlaneTls(), dir.resolve("cache"));
    client.start();
    return client;
  }

  private static String config(int version) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"s"
        + version
        + "\",\"url\":\"http://backend:8080\"}],\"routes\":[{\"name\":\"r"
        + version
        + "\",\"paths\":[\"/v"
        + version
        + "\"]}]}";
  }

  private static String cachedHash(Path cacheDir) throws IOException {
    byte[] gz = Files.readAllBytes(cacheDir.resolve("config.json.gz"));
    try (GZIPInputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(gz))) {
      String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      return json.replaceAll(".*\"config_hash\":\"([0-9a-f]{32})\".*", "$1");
    }
  }

  @Test
  void firstConfigurationArrivesAndIsCached() throws Exception {
    String hash = cp.publish(config(1));
    ConfigSyncClient client = startedClient();

    Optional<ConfigSnapshot> first = client.awaitFirstSnapshot(Duration.ofSeconds(10));

    assertThat(first).isPresent();
    assertThat(first.get().hash()).isEqualTo(hash);
    assertThat(first.get().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(first.get().config().path("services").get(0).path("name").asText()).isEqualTo("s1");
    assertThat(cachedHash(dir.resolve("cache"))).isEqualTo(hash);
    assertThat(Files.readAllBytes(dir.resolve("cache/config.json.gz")))
        .startsWith((byte) 0x1f, (byte) 0x8b);
    var node = cp.connectedNodes().get(0);
    assertThat(node.nodeId()).isEqualTo(client.status().nodeId().toString());
    assertThat(node.basicInfo().path("plugins").get(0).path("name").asText())
        .isEqualTo("rate-limiting");
    assertThat(node.basicInfo().path("labels").path("region").asText()).isEqualTo("test");
    assertThat(node.clientCertificateSubject()).contains("CN=data-plane");
  }

  @Test
  void publishReachesListenerAndPingsCarryTheNewHash() throws Exception {
    ConfigSyncClient client = startedClient();
    await().until(() -> client.status().state() == SyncState.CONNECTED);
    String nodeId = client.status().nodeId().toString();
    await().until(() -> cp.lastReportedHash(nodeId).equals(Optional.of(ConfigHash.NONE)));

    // Context for the closing note, not an assertion: timing belongs to the benchmarks.
    long[] micros = new long[21];
    String hash = null;
    for (int i = 0; i < micros.length; i++) {
      arrivals.clear();
      long start = System.nanoTime();
      String published = cp.publish(config(100 + i));
      ConfigSnapshot arrived = arrivals.poll(10, TimeUnit.SECONDS);
      micros[i] = (System.nanoTime() - start) / 1_000;
      assertThat(arrived).isNotNull();
      assertThat(arrived.hash()).isEqualTo(published);
      hash = published;
    }
    long first = micros[0];
    Arrays.sort(micros, 1, micros.length);
    System.out.println(
        "publish -> listener on loopback: first "
            + first
            + " us, median of the next 20: "
            + micros[11]
            + " us");
    String last = hash;

    // The ping right after the apply, and every heartbeat after it, carry the new hash.
    await().until(() -> cp.lastReportedHash(nodeId).equals(Optional.of(last)));
    int pingsSoFar = cp.reportedHashes(nodeId).size();
    await().until(() -> cp.reportedHashes(nodeId).size() >= pingsSoFar + 2);
    List<String> all = cp.reportedHashes(nodeId);
    assertThat(all.subList(all.indexOf(last), all.size())).containsOnly(last);
    assertThat(client.status().hash()).isEqualTo(last);
  }

  @Test
  void silentControlPlaneIsDetectedAndClientReconnects() throws Exception {
    ConfigSyncClient client = startedClient();
    await().until(() -> client.status().state() == SyncState.CONNECTED);
    assertThat(cp.connectionCount()).isEqualTo(1);

    cp.answerPings(false);
    long silentSince = System.nanoTime();
    await().until(() -> events.stream().anyMatch(SyncEvent.Disconnected.class::isInstance));
    long detectedAfterMillis = (System.nanoTime() - silentSince) / 1_000_000;
    SyncEvent.Disconnected lost =
        (SyncEvent.Disconnected)
            events.stream().filter(SyncEvent.Disconnected.class::isInstance).findFirst().get();
    assertThat(lost.reason()).contains("nothing from the control plane");
    // The last pong came at most one heartbeat before the silence began.
    assertThat(detectedAfterMillis)
        .isLessThan(DEAD_AFTER.toMillis() + HEARTBEAT.toMillis() + 1_000);
    assertThat(lost.retryIn()).isBetween(RETRY_MIN, RETRY_MAX);

    cp.answerPings(true);
    await()
        .until(() -> cp.connectionCount() == 2 && client.status().state() == SyncState.CONNECTED);
  }

  @Test
  void threePublishesWhileDisconnectedDeliverOnlyTheLast() throws Exception {
    String first = cp.publish(config(1));
    ConfigSyncClient client = startedClient();
    await().until(() -> first.equals(client.status().hash()));

    cp.stop();
    await().until(() -> client.status().state() != SyncState.CONNECTED);
    cp.publish(config(2));
    cp.publish(config(3));
    String last = cp.publish(config(4));
    cp.restart();

    await().until(() -> last.equals(client.status().hash()));
    assertThat(snapshots).extracting(ConfigSnapshot::hash).containsExactly(first, last);
    assertThat(cp.connectedNodes().get(0).configFramesSent()).isEqualTo(1);
    assertThat(cachedHash(dir.resolve("cache"))).isEqualTo(last);
  }

  @Test
  void restartWithControlPlaneDownServesTheCachedConfiguration() throws Exception {
    String hash = cp.publish(config(7));
    ConfigSyncClient before = startedClient();
    await().until(() -> hash.equals(before.status().hash()));
    before.close();
    cp.stop();

    ConfigSyncClient after = client(pki.dataPlaneTls(), dir.resolve("cache"));
    after.start();

    // Served at once, from disk, before any connection could succeed.
    assertThat(after.current()).isPresent();
    assertThat(after.current().get().hash()).isEqualTo(hash);
    assertThat(after.current().get().source()).isEqualTo(SnapshotSource.CACHE);
    assertThat(after.status().nodeId()).isEqualTo(before.status().nodeId());
    // And kept while the control plane stays away.
    await().until(() -> after.status().connectAttempts() >= 3);
    assertThat(after.current().get().hash()).isEqualTo(hash);
  }

  @Test
  void frameWithWrongHashIsRejectedAndLastGoodStays() throws Exception {
    String good = cp.publish(config(1));
    ConfigSyncClient client = startedClient();
    await().until(() -> good.equals(client.status().hash()));

    String forged =
        "{\"type\":\"reconfigure\",\"config_table\":"
            + config(66)
            + ",\"config_hash\":\""
            + good
            + "\"}";
    cp.sendRaw(Gzip.compress(forged.getBytes(StandardCharsets.UTF_8)));

    await()
        .until(
            () ->
                events.stream()
                    .anyMatch(
                        e ->
                            e instanceof SyncEvent.SnapshotRejected r
                                && r.reason() == ConfigRejectedException.Reason.HASH_MISMATCH));
    assertThat(client.current().get().hash()).isEqualTo(good);
    assertThat(cachedHash(dir.resolve("cache"))).isEqualTo(good);
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);
  }

  @Test
  void refusedConfigurationIsReportedToTheControlPlaneOnlyWhenEnabled() throws Exception {
    String good = cp.publish(config(1));
    ConfigSyncClient silent = startedClient();
    ConfigSyncClient reporting =
        ConfigSyncClient.builder()
            .controlPlane(cp.uri())
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .heartbeatInterval(HEARTBEAT)
            .reconnectDelay(RETRY_MIN, RETRY_MAX)
            .reportErrors(true)
            .build();
    clients.add(reporting);
    reporting.start();
    await()
        .until(() -> good.equals(silent.status().hash()) && good.equals(reporting.status().hash()));

    String forged =
        "{\"type\":\"reconfigure\",\"config_table\":"
            + config(66)
            + ",\"config_hash\":\""
            + good
            + "\"}";
    cp.sendRaw(Gzip.compress(forged.getBytes(StandardCharsets.UTF_8)));

    await().until(() -> cp.errorReports().size() == 1);
    var report = cp.errorReports().get(0).path("error");
    assertThat(report.path("name").asText()).isEqualTo("HASH_MISMATCH");
    assertThat(report.path("config_hash").asText()).isEqualTo(good);
    assertThat(report.path("message").asText()).contains("does not match");
    // Both nodes refused it; only the one with reporting on told the control plane, and the
    // report broke no connection.
    await().until(() -> silent.status().rejected() == 1);
    assertThat(cp.errorReports()).hasSize(1);
    assertThat(cp.violations()).isEmpty();
    assertThat(reporting.status().state()).isEqualTo(SyncState.CONNECTED);
  }

  @Test
  void brokenGzipIsRejectedAndLastGoodStays() throws Exception {
    String good = cp.publish(config(1));
    ConfigSyncClient client = startedClient();
    await().until(() -> good.equals(client.status().hash()));
    byte[] payload = Gzip.compress(config(2).getBytes(StandardCharsets.UTF_8));
    payload[payload.length / 2] ^= 0x5a;

    cp.sendRaw(payload);

    await()
        .until(
            () ->
                events.stream()
                    .anyMatch(
                        e ->
                            e instanceof SyncEvent.SnapshotRejected r
                                && (r.reason() == ConfigRejectedException.Reason.BAD_GZIP
                                    || r.reason() == ConfigRejectedException.Reason.BAD_JSON)));
    assertThat(client.current().get().hash()).isEqualTo(good);
    assertThat(cachedHash(dir.resolve("cache"))).isEqualTo(good);
    // The next good configuration still goes through.
    String next = cp.publish(config(3));
    await().until(() -> next.equals(client.status().hash()));
  }

  @Test
  void clientCertificateFromAnotherCaIsRefused() throws Exception {
    TestPki stranger = TestPki.create("stranger");
    // Trusts our CA (so the server certificate checks out) but presents a foreign certificate.
    var intruder = stranger.issue("intruder", Duration.ofDays(1));
    TlsConfig foreign =
        TlsConfig.pkiFromPem(
            intruder.certificatePem(), intruder.privateKeyPkcs8Pem(), pki.ca().certificatePem());
    cp.publish(config(1));
    ConfigSyncClient client = client(foreign, dir.resolve("intruder"));
    client.start();

    await().until(() -> client.status().connectAttempts() >= 2);
    assertThat(client.current()).isEmpty();
    assertThat(cp.connectedNodes()).isEmpty();
    assertThat(client.status().state()).isNotEqualTo(SyncState.CONNECTED);
    assertThat(events).anyMatch(SyncEvent.Disconnected.class::isInstance);
  }
}
