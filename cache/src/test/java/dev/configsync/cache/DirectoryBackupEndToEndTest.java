package dev.configsync.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.spi.Transport;
import java.io.IOException;
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
 * Two real clients and real files: node A gets a configuration from its control plane and exports
 * it to a shared directory; node B, started later with an empty cache while the control plane is
 * unreachable, imports it from its own {@link DirectoryBackupStore} on the same directory.
 */
class DirectoryBackupEndToEndTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final URI CONTROL_PLANE = URI.create("wss://cp.invalid:8005");

  @TempDir Path dir;

  private final List<ConfigSyncClient> clients = new ArrayList<>();

  @AfterEach
  void close() {
    clients.forEach(ConfigSyncClient::close);
  }

  @Test
  void aNodeStartedDuringAnOutageRunsTheConfigurationAnotherNodeExported() throws IOException {
    Path shared = dir.resolve("shared");
    ObjectNode table = MAPPER.createObjectNode();
    table.put("_format_version", "3.0");
    table.putArray("services").addObject().put("name", "orders").put("host", "orders.internal");
    byte[] payload = HybridProtocol.reconfigure(table, 1_700_000_000.5);
    String hash = ConfigHash.configHash(table);

    // Node A: connected, exports what its control plane sends.
    List<SyncEvent> eventsA = new CopyOnWriteArrayList<>();
    start(
        node(dir.resolve("a"), new ControlPlaneSending(payload), "3.9.2", eventsA)
            .backupExport(DirectoryBackupStore.open(shared)));
    eventually().until(() -> eventsA.stream().anyMatch(SyncEvent.BackupExported.class::isInstance));
    assertThat(Files.readAllBytes(shared.resolve("3.9/config.json.gz"))).isEqualTo(payload);

    // Node B: empty cache, control plane unreachable; same minor version, its own store instance.
    List<SyncEvent> eventsB = new CopyOnWriteArrayList<>();
    ConfigSyncClient nodeB =
        start(
            node(dir.resolve("b"), new Unreachable(), "3.9.0", eventsB)
                .backupImport(DirectoryBackupStore.open(shared)));
    eventually().until(() -> nodeB.current().isPresent());
    ConfigSnapshot imported = nodeB.current().orElseThrow();
    assertThat(imported.source()).isEqualTo(SnapshotSource.BACKUP);
    assertThat(imported.hash()).isEqualTo(hash);
    eventually().until(() -> eventsB.stream().anyMatch(SyncEvent.CacheWritten.class::isInstance));
    assertThat(FileSnapshotStore.open(dir.resolve("b")).read())
        .hasValueSatisfying(cached -> assertThat(cached).isEqualTo(payload));

    // Node C runs another minor version: nothing to import for it.
    List<SyncEvent> eventsC = new CopyOnWriteArrayList<>();
    ConfigSyncClient nodeC =
        start(
            node(dir.resolve("c"), new Unreachable(), "3.10.0", eventsC)
                .backupImport(DirectoryBackupStore.open(shared)));
    eventually().until(() -> eventsC.stream().anyMatch(SyncEvent.BackupFailed.class::isInstance));
    SyncEvent.BackupFailed failed =
        eventsC.stream()
            .filter(SyncEvent.BackupFailed.class::isInstance)
            .map(SyncEvent.BackupFailed.class::cast)
            .findFirst()
            .orElseThrow();
    assertThat(failed.reason()).contains("no backup for version 3.10").contains(shared.toString());
    assertThat(nodeC.current()).isEmpty();
  }

  private ConfigSyncClient.Builder node(
      Path cache, Transport transport, String version, List<SyncEvent> events) throws IOException {
    return ConfigSyncClient.builder()
        .controlPlane(CONTROL_PLANE)
        .transport(transport)
        .snapshotStore(FileSnapshotStore.open(cache))
        .nodeHostname("dp-" + cache.getFileName())
        .nodeVersion(version)
        .onEvent(events::add);
  }

  private ConfigSyncClient start(ConfigSyncClient.Builder builder) {
    ConfigSyncClient client = builder.build();
    clients.add(client);
    client.start();
    return client;
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
