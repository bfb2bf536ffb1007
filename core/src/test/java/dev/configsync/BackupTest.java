package dev.configsync;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Backup export and import (data plane resilience), driven like {@link SyncLoopTest}: a hand-driven
 * clock, a fake control plane and stores in memory.
 *
 * <p>Backup calls run on the client's one backup thread, in order. Where a test must show that
 * something was <em>not</em> exported or imported, it makes a later export happen and checks the
 * whole record of calls once that export is in: a call made earlier would be in the record before
 * it.
 */
class BackupTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final UUID NODE_ID = UUID.fromString("5f4a2c1e-0000-4000-8000-000000000002");
  private static final URI CONTROL_PLANE = URI.create("wss://cp.example.com:8005");
  private static final Duration DELAY = Duration.ofSeconds(60);
  private static final Duration ONE_NANO = Duration.ofNanos(1);
  private static final String NODE_VERSION = "3.9.1";
  private static final String KEY_VERSION = "3.9";

  private final ManualScheduler scheduler = new ManualScheduler();
  private final FakeTransport transport = new FakeTransport();
  private final InMemoryStore store = new InMemoryStore(NODE_ID);
  private final InMemoryBackupStore backups = new InMemoryBackupStore();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private final List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
  private final List<ConfigSyncClient> clients = new ArrayList<>();

  @TempDir Path dir;

  @AfterEach
  void closeClients() {
    backups.release();
    store.releaseWrites();
    clients.forEach(ConfigSyncClient::close);
  }

  // ---- export ------------------------------------------------------------------------------

  @Test
  void exportsAControlPlaneConfigurationOnceItApplies() {
    FakeConnection c = startConnected(builder().backupExport(backups));
    ObjectNode a = table("a");
    byte[] payload = payload(a);

    c.deliver(payload);

    awaitExports(1);
    InMemoryBackupStore.Put put = backups.puts().get(0);
    assertThat(put.version()).isEqualTo(KEY_VERSION);
    assertThat(put.payload()).isEqualTo(payload); // verbatim, as received
    SyncEvent.BackupExported exported = events(SyncEvent.BackupExported.class).get(0);
    assertThat(exported.hash()).isEqualTo(ConfigHash.configHash(a));
    assertThat(exported.location()).isEqualTo("memory-backup");
    assertThat(events.indexOf(exported))
        .isGreaterThan(events.indexOf(events(SyncEvent.SnapshotApplied.class).get(0)));
  }

  @Test
  void aSecondConfigurationWithinTheDelayIsExportedOnlyWhenTheDelayHasPassed() {
    FakeConnection c = startConnected(builder().backupExport(backups));
    c.deliver(payload(table("a")));
    awaitExports(1);

    scheduler.advance(Duration.ofSeconds(10));
    c.deliver(payload(table("b")));
    awaitApplied(table("b"));
    // Just before the delay ends, a third one arrives: the pending export must take it.
    scheduler.advance(DELAY.minusSeconds(10).minus(ONE_NANO));
    c.deliver(payload(table("c")));
    awaitApplied(table("c"));
    assertThat(backups.putsStarted()).isOne();

    scheduler.advance(ONE_NANO);

    awaitExports(2);
    assertThat(exportedHashes()).containsExactly(hash("a"), hash("c"));
    assertThat(events(SyncEvent.BackupExported.class))
        .extracting(SyncEvent.BackupExported::hash)
        .containsExactly(hash("a"), hash("c"));
  }

  @Test
  void threeConfigurationsWithinTheDelayGiveOneMoreExportOfTheLatest() {
    FakeConnection c = startConnected(builder().backupExport(backups));
    c.deliver(payload(table("a")));
    awaitExports(1);

    for (String name : List.of("b", "c", "d")) {
      scheduler.advance(Duration.ofSeconds(10));
      c.deliver(payload(table(name)));
      awaitApplied(table(name));
    }
    scheduler.advance(DELAY.minusSeconds(30)); // the delay since the first export has passed

    awaitExports(2);
    assertThat(exportedHashes()).containsExactly(hash("a"), hash("d"));

    // The cadence goes on from that export: the next one waits a whole delay again.
    c.deliver(payload(table("e")));
    awaitApplied(table("e"));
    scheduler.advance(DELAY.minus(ONE_NANO));
    assertThat(backups.putsStarted()).isEqualTo(2);
    scheduler.advance(ONE_NANO);
    awaitExports(3);
    assertThat(exportedHashes()).containsExactly(hash("a"), hash("d"), hash("e"));
  }

  @Test
  void aConfigurationArrivingAfterTheDelayIsExportedAtOnce() {
    FakeConnection c = startConnected(builder().backupExport(backups));
    c.deliver(payload(table("a")));
    awaitExports(1);

    scheduler.advance(DELAY);
    c.deliver(payload(table("b")));

    awaitExports(2);
    assertThat(exportedHashes()).containsExactly(hash("a"), hash("b"));
  }

  @Test
  void aCachedConfigurationIsNeverExported() {
    store.preload(payload(table("cached")));
    ConfigSyncClient client = start(builder().backupExport(backups));
    assertThat(client.current()).map(ConfigSnapshot::source).contains(SnapshotSource.CACHE);

    FakeConnection c = transport.last();
    c.open();
    c.deliver(payload(table("pushed")));

    awaitExports(1);
    assertThat(exportedHashes()).containsExactly(hash("pushed"));
  }

  @Test
  void aCachedConfigurationConfirmedByTheControlPlaneIsExportedWithoutReapplying() {
    store.preload(payload(table("cached")));
    ConfigSyncClient client = start(builder().backupExport(backups));
    FakeConnection c = transport.last();
    c.open();

    c.deliver(payload(table("cached"))); // the control plane still has the same configuration

    awaitExports(1);
    assertThat(exportedHashes()).containsExactly(hash("cached"));
    assertThat(client.status().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(snapshots).hasSize(1); // the listener heard of it once, at start-up
  }

  @Test
  void aFallbackConfigurationIsNeverExported() throws IOException {
    Path fallback = Files.writeString(dir.resolve("fallback.json"), table("fallback").toString());
    ConfigSyncClient client = start(builder().backupExport(backups).fallbackConfig(fallback));
    assertThat(client.current()).map(ConfigSnapshot::source).contains(SnapshotSource.FALLBACK);

    FakeConnection c = transport.last();
    c.open();
    c.deliver(payload(table("pushed")));

    awaitExports(1);
    assertThat(exportedHashes()).containsExactly(hash("pushed"));
  }

  @Test
  void aManualConfigurationIsNeverExported() throws Exception {
    Path file = Files.writeString(dir.resolve("manual.json"), table("manual").toString());
    ConfigSyncClient client = start(builder().backupExport(backups));
    ConfigSnapshot manual = client.loadManual(file); // while still connecting
    assertThat(manual.source()).isEqualTo(SnapshotSource.MANUAL);

    FakeConnection c = transport.last();
    c.open();
    c.deliver(payload(table("pushed")));

    awaitExports(1);
    assertThat(exportedHashes()).containsExactly(hash("pushed"));
  }

  @Test
  void anExportFailureIsReportedAndNothingElseBreaks() {
    backups.failNextPut();
    ConfigSyncClient client = start(builder().backupExport(backups));
    FakeConnection c = transport.last();
    c.open();
    byte[] a = payload(table("a"));

    c.deliver(a);

    eventually().until(() -> !events(SyncEvent.BackupFailed.class).isEmpty());
    SyncEvent.BackupFailed failed = events(SyncEvent.BackupFailed.class).get(0);
    assertThat(failed.operation()).isEqualTo("export");
    assertThat(failed.hash()).isEqualTo(hash("a"));
    assertThat(failed.reason()).contains("bucket unreachable");
    assertThat(events(SyncEvent.BackupExported.class)).isEmpty();
    assertThat(client.current()).map(ConfigSnapshot::hash).contains(hash("a"));
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);
    assertThat(client.isServing()).isTrue();
    assertThat(store.bytes()).isEqualTo(a);
    assertThat(events(SyncEvent.Disconnected.class)).isEmpty();
    assertThat(c.isCancelled()).isFalse();
    assertThat(c.pings()).contains(hash("a"));

    // The next configuration after the delay is exported as usual.
    scheduler.advance(DELAY);
    c.deliver(payload(table("b")));
    awaitExports(1);
    assertThat(exportedHashes()).containsExactly(hash("b"));
    assertThat(events(SyncEvent.BackupFailed.class)).hasSize(1);
  }

  // ---- import ------------------------------------------------------------------------------

  @Test
  void anEmptyNodeWhoseFirstConnectionFailsImportsTheBackup() {
    ObjectNode backedUp = table("backed-up");
    byte[] copy = payload(backedUp);
    backups.preload(KEY_VERSION, copy);
    ConfigSyncClient client = start(builder().backupImport(backups));
    assertThat(events(SyncEvent.StartedEmpty.class)).hasSize(1);
    assertThat(backups.gets()).isEmpty(); // not before the first attempt has failed

    transport.last().fail(new IOException("connection refused"));

    eventually().until(() -> snapshots.size() == 1);
    ConfigSnapshot imported = snapshots.get(0);
    assertThat(imported.source()).isEqualTo(SnapshotSource.BACKUP);
    assertThat(imported.hash()).isEqualTo(ConfigHash.configHash(backedUp));
    assertThat(imported.config()).isEqualTo(backedUp);
    assertThat(client.current()).containsSame(imported);
    assertThat(client.status().source()).isEqualTo(SnapshotSource.BACKUP);
    assertThat(backups.gets()).containsExactly(KEY_VERSION);
    assertThat(store.bytes()).isEqualTo(copy); // cached, so a restart needs no import
    assertThat(events(SyncEvent.CacheWritten.class))
        .singleElement()
        .satisfies(w -> assertThat(w.hash()).isEqualTo(imported.hash()));
    assertThat(events(SyncEvent.SnapshotApplied.class))
        .singleElement()
        .satisfies(e -> assertThat(e.source()).isEqualTo(SnapshotSource.BACKUP));

    // The control plane's configuration replaces it as soon as it is reachable.
    reconnect().deliver(payload(table("pushed")));
    awaitApplied(table("pushed"));
    assertThat(client.status().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(backups.gets()).hasSize(1); // only the first failure imports
  }

  @Test
  void anImportedConfigurationIsNotExportedAgain() {
    backups.preload(KEY_VERSION, payload(table("backed-up")));
    start(builder().backupImport(backups).backupExport(backups));
    transport.last().fail(new IOException("connection refused"));
    awaitApplied(table("backed-up"));

    reconnect().deliver(payload(table("pushed")));

    awaitExports(1);
    assertThat(exportedHashes()).containsExactly(hash("pushed"));
  }

  @Test
  void aNodeThatConnectsNeverImports() {
    backups.preload(KEY_VERSION, payload(table("backed-up")));
    ConfigSyncClient client = start(builder().backupImport(backups).backupExport(backups));
    FakeConnection first = transport.last();
    first.open();
    first.fail(new IOException("connection reset")); // still empty, but it did connect

    assertThat(client.current()).isEmpty();
    reconnect().deliver(payload(table("pushed")));

    awaitExports(1); // an import asked for earlier would have run before this export
    assertThat(backups.gets()).isEmpty();
    assertThat(snapshots).extracting(ConfigSnapshot::hash).containsExactly(hash("pushed"));
  }

  @Test
  void aNodeWithAValidCacheNeverImports() {
    backups.preload(KEY_VERSION, payload(table("backed-up")));
    store.preload(payload(table("cached")));
    ConfigSyncClient client = start(builder().backupImport(backups).backupExport(backups));

    transport.last().fail(new IOException("connection refused"));
    assertThat(client.current()).map(ConfigSnapshot::source).contains(SnapshotSource.CACHE);
    reconnect().deliver(payload(table("pushed")));

    awaitExports(1);
    assertThat(backups.gets()).isEmpty();
    assertThat(snapshots)
        .extracting(ConfigSnapshot::hash)
        .containsExactly(hash("cached"), hash("pushed"));
  }

  @Test
  void aBackupThatFailsItsHashCheckIsRefusedAndTheNodeStaysEmpty() {
    String claimed = "0123456789abcdef0123456789abcdef";
    backups.preload(
        KEY_VERSION,
        Gzip.compress(
            ("{\"type\":\"reconfigure\",\"timestamp\":1700000000,\"config_table\":"
                    + table("tampered")
                    + ",\"config_hash\":\""
                    + claimed
                    + "\"}")
                .getBytes(UTF_8)));
    ConfigSyncClient client = start(builder().backupImport(backups));

    transport.last().fail(new IOException("connection refused"));

    SyncEvent.BackupFailed failed = awaitBackupFailed();
    assertThat(failed.operation()).isEqualTo("import");
    assertThat(failed.hash()).isEqualTo(claimed);
    assertThat(failed.reason()).contains("HASH_MISMATCH").contains(hash("tampered"));
    assertThat(client.current()).isEmpty();
    assertThat(snapshots).isEmpty();
    assertThat(events(SyncEvent.SnapshotApplied.class)).isEmpty();
    assertThat(store.writesStarted()).isZero();
    assertThat(store.bytes()).isNull();
    assertThat(client.status().state()).isEqualTo(SyncState.WAITING_RETRY);
  }

  @Test
  void aMissingBackupIsReported() {
    ConfigSyncClient client = start(builder().backupImport(backups));

    transport.last().fail(new IOException("connection refused"));

    SyncEvent.BackupFailed failed = awaitBackupFailed();
    assertThat(failed.operation()).isEqualTo("import");
    assertThat(failed.hash()).isNull();
    assertThat(failed.reason()).contains("no backup for version 3.9").contains("memory-backup");
    assertThat(client.current()).isEmpty();
  }

  @Test
  void anUnreadableBackupStoreIsReported() {
    backups.preload(KEY_VERSION, payload(table("backed-up")));
    backups.failNextGet();
    ConfigSyncClient client = start(builder().backupImport(backups));

    transport.last().fail(new IOException("connection refused"));

    SyncEvent.BackupFailed failed = awaitBackupFailed();
    assertThat(failed.operation()).isEqualTo("import");
    assertThat(failed.reason()).contains("access denied");
    assertThat(client.current()).isEmpty();
    // The node goes on trying the control plane.
    reconnect().deliver(payload(table("pushed")));
    awaitApplied(table("pushed"));
  }

  // ---- close -------------------------------------------------------------------------------

  @Test
  void anExportThatEndsAfterCloseReportsNothingAfterStopped() {
    backups.block();
    ConfigSyncClient client = start(builder().backupExport(backups));
    FakeConnection c = transport.last();
    c.open();
    c.deliver(payload(table("a")));
    eventually().until(() -> backups.putsStarted() == 1);
    Thread worker = backups.lastCaller();

    client.close(); // does not wait for the backup thread
    assertThat(events.get(events.size() - 1)).isInstanceOf(SyncEvent.Stopped.class);
    backups.release();

    eventually().until(() -> !worker.isAlive());
    assertThat(backups.puts()).hasSize(1); // the put itself went through
    assertThat(events.get(events.size() - 1)).isInstanceOf(SyncEvent.Stopped.class);
    assertThat(events(SyncEvent.BackupExported.class)).isEmpty();
  }

  @Test
  void anImportThatEndsAfterCloseReportsNothingAfterStopped() {
    backups.block();
    ConfigSyncClient client = start(builder().backupImport(backups)); // no copy in the store
    transport.last().fail(new IOException("connection refused"));
    eventually().until(() -> backups.gets().size() == 1);
    Thread worker = backups.lastCaller();

    client.close();
    backups.release();

    eventually().until(() -> !worker.isAlive());
    assertThat(events.get(events.size() - 1)).isInstanceOf(SyncEvent.Stopped.class);
    assertThat(events(SyncEvent.BackupFailed.class)).isEmpty();
  }

  // ---- key -----------------------------------------------------------------------------------

  @ParameterizedTest
  @CsvSource({
    "3.9.1, 3.9",
    "3.9, 3.9",
    "10.24.0, 10.24",
    "0.1.0, 0.1",
    "3.10-rc.1, 3.10",
    "3.9-beta, 3.9",
    "3.9+ent.2, 3.9",
    "3.9.1-beta.2, 3.9"
  })
  void theKeyVersionIsTheMajorMinorOfTheNodeVersion(String nodeVersion, String expected) {
    FakeConnection c = startConnected(builder().nodeVersion(nodeVersion).backupExport(backups));

    c.deliver(payload(table("a")));

    awaitExports(1);
    assertThat(backups.puts().get(0).version()).isEqualTo(expected);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private ConfigSyncClient.Builder builder() {
    return ConfigSyncClient.builder()
        .controlPlane(CONTROL_PLANE)
        .transport(transport)
        .snapshotStore(store)
        .nodeHostname("dp-1")
        .nodeVersion(NODE_VERSION)
        // Long enough that no heartbeat or dead-connection timer fires while a test moves time.
        .heartbeatInterval(Duration.ofMinutes(10))
        .backupExportDelay(DELAY)
        .scheduler(scheduler)
        .random(new Random(42))
        .clock(Clock.fixed(Instant.parse("2024-06-01T12:00:00Z"), ZoneOffset.UTC))
        .listenerExecutor(Runnable::run)
        .onEvent(events::add)
        .onSnapshot(snapshots::add);
  }

  private ConfigSyncClient start(ConfigSyncClient.Builder builder) {
    ConfigSyncClient client = builder.build();
    clients.add(client);
    client.start();
    return client;
  }

  private FakeConnection startConnected(ConfigSyncClient.Builder builder) {
    start(builder);
    FakeConnection c = transport.last();
    c.open();
    return c;
  }

  /** Waits out the retry delay of the last disconnection and opens the next connection. */
  private FakeConnection reconnect() {
    List<SyncEvent.Disconnected> disconnects = events(SyncEvent.Disconnected.class);
    assertThat(disconnects).isNotEmpty();
    int before = transport.connectCount();
    scheduler.advance(disconnects.get(disconnects.size() - 1).retryIn());
    assertThat(transport.connectCount()).isEqualTo(before + 1);
    FakeConnection c = transport.last();
    c.open();
    return c;
  }

  private void awaitExports(int count) {
    eventually().until(() -> events(SyncEvent.BackupExported.class).size() >= count);
    assertThat(backups.puts()).hasSize(count);
  }

  private SyncEvent.BackupFailed awaitBackupFailed() {
    eventually().until(() -> !events(SyncEvent.BackupFailed.class).isEmpty());
    return events(SyncEvent.BackupFailed.class).get(0);
  }

  /** The configuration hash claimed by each exported payload, in order. */
  private List<String> exportedHashes() {
    List<String> hashes = new ArrayList<>();
    for (InMemoryBackupStore.Put put : backups.puts()) {
      try {
        JsonNode message = MAPPER.readTree(Gzip.decompress(put.payload(), 1 << 20));
        hashes.add(message.path("config_hash").asText());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return hashes;
  }

  private void awaitApplied(JsonNode table) {
    String hash = ConfigHash.configHash(table);
    eventually()
        .until(
            () ->
                events(SyncEvent.SnapshotApplied.class).stream()
                    .anyMatch(e -> e.hash().equals(hash)));
  }

  private <T extends SyncEvent> List<T> events(Class<T> type) {
    return events.stream().filter(type::isInstance).map(type::cast).toList();
  }

  private static ConditionFactory eventually() {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(1));
  }

  private static String hash(String service) {
    return ConfigHash.configHash(table(service));
  }

  private static ObjectNode table(String service) {
    ObjectNode t = MAPPER.createObjectNode();
    t.put("_format_version", "3.0");
    ObjectNode s = t.putArray("services").addObject();
    s.put("name", service);
    s.put("host", service + ".internal");
    s.put("port", 8080);
    return t;
  }

  private static byte[] payload(JsonNode table) {
    return HybridProtocol.reconfigure(table, 1_700_000_000.25);
  }
}
