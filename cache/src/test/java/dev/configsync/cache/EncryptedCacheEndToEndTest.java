package dev.configsync.cache;

import static dev.configsync.cache.EncryptedStoresTest.KEY_A;
import static dev.configsync.cache.EncryptedStoresTest.KEY_B;
import static dev.configsync.cache.EncryptedStoresTest.MARKER;
import static dev.configsync.cache.EncryptedStoresTest.captureStderr;
import static dev.configsync.cache.EncryptedStoresTest.payloadWithSecret;
import static dev.configsync.cache.EncryptedStoresTest.tableWithSecret;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.AtRestEncryption;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
import dev.configsync.spi.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients on real, encrypted cache and backup files: what start-up does with a cache it can,
 * or cannot, decrypt; and that no log line or event ever shows a secret of the configuration.
 */
class EncryptedCacheEndToEndTest {
  private static final URI CONTROL_PLANE = URI.create("wss://cp.invalid:8005");

  @TempDir Path dir;

  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    clients.forEach(ConfigSyncClient::close);
  }

  @Test
  void aNodeRestartsOnItsEncryptedCache() throws Exception {
    Path cache = dir.resolve("cache");
    byte[] payload = payloadWithSecret("orders");
    String hash = ConfigHash.configHash(tableWithSecret("orders"));

    String logs =
        captureStderr(
            () -> {
              ConfigSyncClient first =
                  start(node(store(cache, KEY_A), new ControlPlaneSending(payload)));
              eventually()
                  .until(() -> events.stream().anyMatch(SyncEvent.CacheWritten.class::isInstance));
              first.close();
              assertThat(AtRestEncryption.keyIdOf(read(cache.resolve("config.json.gz"))))
                  .contains(KEY_A.keyId());

              ConfigSyncClient second = start(node(store(cache, KEY_A), new Unreachable()));
              assertThat(second.current().map(ConfigSnapshot::source))
                  .contains(SnapshotSource.CACHE);
              assertThat(second.current().map(ConfigSnapshot::hash)).contains(hash);
            });

    assertNoSecretIn(logs);
  }

  @Test
  void aCacheUnderAnotherKeyIsMovedAsideAndStartUpFallsThroughToTheFallback() throws Exception {
    Path cache = dir.resolve("cache");
    FileSnapshotStore.open(cache, KEY_A).write(payloadWithSecret("cached"));
    byte[] encrypted = read(cache.resolve("config.json.gz"));
    Path fallback =
        Files.writeString(dir.resolve("kong.json"), tableWithSecret("fallback").toString());

    ConfigSyncClient[] client = new ConfigSyncClient[1];
    String logs =
        captureStderr(
            () ->
                client[0] =
                    start(node(store(cache, KEY_B), new Unreachable()).fallbackConfig(fallback)));

    SyncEvent.CacheDamaged damaged = only(SyncEvent.CacheDamaged.class);
    assertThat(damaged.reason())
        .contains("key id " + KEY_A.keyId())
        .contains(KEY_B.keyId())
        .doesNotContain(MARKER);
    assertThat(damaged.movedTo()).startsWith("config.json.gz.broken-");
    assertThat(read(cache.resolve(damaged.movedTo()))).isEqualTo(encrypted); // kept, encrypted
    assertThat(cache.resolve("config.json.gz")).doesNotExist();
    assertThat(client[0].current().map(ConfigSnapshot::source)).contains(SnapshotSource.FALLBACK);
    assertThat(client[0].current().map(ConfigSnapshot::hash))
        .contains(ConfigHash.configHash(tableWithSecret("fallback")));
    assertThat(logs).contains("WARN").contains(KEY_A.keyId());
    assertNoSecretIn(logs);
  }

  @Test
  void anEncryptedCacheOnANodeWithoutAKeyIsDamagedAndTheNodeStartsEmpty() throws Exception {
    Path cache = dir.resolve("cache");
    FileSnapshotStore.open(cache, KEY_A).write(payloadWithSecret("cached"));

    ConfigSyncClient[] client = new ConfigSyncClient[1];
    String logs =
        captureStderr(() -> client[0] = start(node(store(cache, null), new Unreachable())));

    assertThat(only(SyncEvent.CacheDamaged.class).reason())
        .contains("no encryption key is configured")
        .contains(KEY_A.keyId());
    eventually().until(() -> events.stream().anyMatch(SyncEvent.StartedEmpty.class::isInstance));
    assertThat(client[0].current()).isEmpty();
    assertNoSecretIn(logs);
  }

  @Test
  void aTamperedCacheFallsThroughToTheBackupCopy() throws Exception {
    Path cache = dir.resolve("cache");
    Path shared = dir.resolve("shared");
    FileSnapshotStore.open(cache, KEY_A).write(payloadWithSecret("cached"));
    byte[] tampered = read(cache.resolve("config.json.gz"));
    tampered[tampered.length - 3] ^= 1;
    Files.write(cache.resolve("config.json.gz"), tampered);
    DirectoryBackupStore.open(shared, KEY_A).put("3.9", payloadWithSecret("backup"));

    ConfigSyncClient[] client = new ConfigSyncClient[1];
    String logs =
        captureStderr(
            () -> {
              client[0] =
                  start(
                      node(store(cache, KEY_A), new Unreachable())
                          .backupImport(open(shared, KEY_A)));
              eventually().until(() -> client[0].current().isPresent());
              eventually()
                  .until(() -> events.stream().anyMatch(SyncEvent.CacheWritten.class::isInstance));
            });

    assertThat(only(SyncEvent.CacheDamaged.class).reason())
        .contains("fails authentication")
        .contains(KEY_A.keyId());
    assertThat(client[0].current().map(ConfigSnapshot::source)).contains(SnapshotSource.BACKUP);
    // The imported configuration is cached encrypted, under the node's key.
    assertThat(AtRestEncryption.keyIdOf(read(cache.resolve("config.json.gz"))))
        .contains(KEY_A.keyId());
    assertNoSecretIn(logs);
  }

  @Test
  void aBackupUnderAnUnknownKeyIsAFailedImportThatNamesTheKeyId() throws Exception {
    Path shared = dir.resolve("shared");
    DirectoryBackupStore.open(shared, KEY_A).put("3.9", payloadWithSecret("backup"));

    ConfigSyncClient[] client = new ConfigSyncClient[1];
    String logs =
        captureStderr(
            () -> {
              client[0] =
                  start(
                      node(store(dir.resolve("cache"), KEY_B), new Unreachable())
                          .backupImport(open(shared, KEY_B)));
              eventually()
                  .until(() -> events.stream().anyMatch(SyncEvent.BackupFailed.class::isInstance));
            });

    SyncEvent.BackupFailed failed = only(SyncEvent.BackupFailed.class);
    assertThat(failed.operation()).isEqualTo("import");
    assertThat(failed.reason()).contains(KEY_A.keyId()).contains("DecryptionException");
    assertThat(client[0].current()).isEmpty();
    assertNoSecretIn(logs);
  }

  @Test
  void anEncryptedFileGivenByHandIsRefusedWithAClearMessage() throws Exception {
    Path copy = dir.resolve("copy.json.gz");
    Files.write(copy, KEY_A.encrypt(payloadWithSecret("copied")));
    ConfigSyncClient client = start(node(store(dir.resolve("cache"), KEY_A), new Unreachable()));

    assertThatThrownBy(() -> client.loadManual(copy))
        .isInstanceOf(ConfigFileException.class)
        .hasMessageContaining("encrypted configsync payload")
        .hasMessageContaining(KEY_A.keyId())
        .hasMessageContaining("cache directory");
    assertThat(client.current()).isEmpty();
  }

  // ---- helpers --------------------------------------------------------------------------------

  private void assertNoSecretIn(String logs) {
    assertThat(logs).doesNotContain(MARKER);
    for (SyncEvent event : events) {
      assertThat(event.toString()).doesNotContain(MARKER);
    }
    assertThat(events).isNotEmpty();
  }

  private <T extends SyncEvent> T only(Class<T> type) {
    // Events reach listeners on the client's listener thread: wait for the first one.
    eventually().until(() -> events.stream().anyMatch(type::isInstance));
    List<T> found = events.stream().filter(type::isInstance).map(type::cast).toList();
    assertThat(found).hasSize(1);
    return found.get(0);
  }

  private ConfigSyncClient.Builder node(FileSnapshotStore store, Transport transport) {
    return ConfigSyncClient.builder()
        .controlPlane(CONTROL_PLANE)
        .transport(transport)
        .snapshotStore(store)
        .nodeVersion("3.9.1")
        .reconnectDelay(Duration.ofHours(1), Duration.ofHours(1))
        .onEvent(events::add);
  }

  private static FileSnapshotStore store(Path cache, AtRestEncryption encryption) {
    try {
      return encryption == null
          ? FileSnapshotStore.open(cache)
          : FileSnapshotStore.open(cache, encryption);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static DirectoryBackupStore open(Path shared, AtRestEncryption encryption) {
    try {
      return DirectoryBackupStore.open(shared, encryption);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private ConfigSyncClient start(ConfigSyncClient.Builder builder) {
    ConfigSyncClient client = builder.build();
    clients.add(client);
    client.start();
    return client;
  }

  private static byte[] read(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static ConditionFactory eventually() {
    return Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5));
  }

  /** A control plane that answers every connection with one configuration. */
  private static final class ControlPlaneSending implements Transport {
    private final byte[] payload;

    ControlPlaneSending(byte[] payload) {
      this.payload = payload.clone();
    }

    @Override
    public Connection connect(ConnectRequest request, Listener listener) {
      listener.onOpen();
      listener.onBinary(payload.clone());
      return new IdleConnection();
    }

    @Override
    public void close() {}
  }

  /** A control plane that cannot be reached. */
  private static final class Unreachable implements Transport {
    @Override
    public Connection connect(ConnectRequest request, Listener listener) {
      listener.onFailure(new ConnectException("connection refused (test)"));
      return new IdleConnection();
    }

    @Override
    public void close() {}
  }

  private static final class IdleConnection implements Transport.Connection {
    @Override
    public boolean sendBinary(byte[] payload) {
      return true;
    }

    @Override
    public boolean sendPing(byte[] payload) {
      return true;
    }

    @Override
    public void close(int code, String reason) {}

    @Override
    public void cancel() {}
  }
}
