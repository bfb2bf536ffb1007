package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.internal.ConfigHash;
import dev.configsync.okhttp.OkHttpTransport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real data plane clients (transport-okhttp, mutual TLS) against a real control plane. */
class ControlPlaneServerTest {
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  @TempDir Path dir;

  @AfterEach
  void tearDown() throws Exception {
    f.close();
  }

  private static String config(int n) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"s"
        + n
        + "\",\"url\":\"http://u\"}]}";
  }

  private DataPlaneInfo node(ConfigSyncClient client) {
    String id = client.status().nodeId().toString();
    return f.cp.dataPlanes().stream().filter(n -> n.id().equals(id)).findFirst().orElseThrow();
  }

  @Test
  void publishReachesAConnectedNodeWhichReportsTheHash() throws Exception {
    f.start(b -> b);
    ConfigSyncClient client =
        f.startClient(
            c -> c.capability("rate-limiting", "3.9.0").label("region", "eu"), snapshots, events);
    await().until(() -> f.cp.dataPlanes().size() == 1);

    PublishResult result = f.cp.publish(config(1));

    assertThat(result.changed()).isTrue();
    await().until(() -> result.hash().equals(client.status().hash()));
    await().until(() -> node(client).configHash().equals(result.hash()));
    DataPlaneInfo info = node(client);
    assertThat(info.connected()).isTrue();
    assertThat(info.address()).isEqualTo("127.0.0.1");
    assertThat(info.version()).isEqualTo(ConfigSyncClient.VERSION);
    assertThat(info.labels()).containsEntry("region", "eu");
    assertThat(info.capabilities()).containsEntry("rate-limiting", "3.9.0");
    assertThat(info.syncStatus()).isEqualTo(DataPlaneSyncStatus.NORMAL);
    assertThat(snapshots).extracting(ConfigSnapshot::hash).containsExactly(result.hash());
  }

  @Test
  void publishingTheSameConfigurationAgainChangesNothing() throws Exception {
    f.start(b -> b);
    PublishResult first = f.cp.publish(config(1));
    PublishResult again = f.cp.publish(config(1));
    assertThat(again.changed()).isFalse();
    assertThat(again.hash()).isEqualTo(first.hash());
    assertThat(again.publishedAt()).isEqualTo(first.publishedAt());
  }

  @Test
  void aNodeThatConnectsGetsOnlyTheLatestConfiguration() throws Exception {
    f.start(b -> b);
    f.cp.publish(config(1));
    f.cp.publish(config(2));
    PublishResult latest = f.cp.publish(config(3));

    ConfigSyncClient client = f.startClient(c -> c, snapshots, events);

    await().until(() -> latest.hash().equals(client.status().hash()));
    // Listeners run after the status changes, on their own executor.
    await().until(() -> !snapshots.isEmpty());
    assertThat(snapshots).extracting(ConfigSnapshot::hash).containsExactly(latest.hash());
  }

  @Test
  void aNodeWithANewerMinorVersionIsWithheldAndShownAsIncompatible() throws Exception {
    f.start(b -> b.version("3.4.0"));
    f.cp.publish(config(1));
    ConfigSyncClient client = f.startClient(c -> c.nodeVersion("3.5.0"), snapshots, events);

    await()
        .until(
            () ->
                !f.cp.dataPlanes().isEmpty()
                    && node(client).syncStatus() == DataPlaneSyncStatus.VERSION_INCOMPATIBLE);
    assertThat(node(client).syncStatusReason()).contains("3.5.0").contains("newer");
    // It stays connected (pings answered) but is sent nothing.
    await().during(Duration.ofMillis(600)).until(() -> node(client).connected());
    assertThat(snapshots).isEmpty();
    assertThat(client.status().hash()).isNull();
  }

  @Test
  void aNodeOfAnotherMajorVersionIsWithheld() throws Exception {
    f.start(b -> b.version("3.4.0"));
    f.cp.publish(config(1));
    ConfigSyncClient client = f.startClient(c -> c.nodeVersion("2.8.0"), snapshots, events);
    await()
        .until(
            () ->
                !f.cp.dataPlanes().isEmpty()
                    && node(client).syncStatus() == DataPlaneSyncStatus.VERSION_INCOMPATIBLE);
    assertThat(node(client).syncStatusReason()).contains("major");
    assertThat(snapshots).isEmpty();
  }

  @Test
  void aConfigurationUsingAPluginTheNodeLacksIsWithheldUntilOneItCanRun() throws Exception {
    f.start(b -> b);
    ConfigSyncClient client =
        f.startClient(c -> c.capability("rate-limiting", "3.9.0"), snapshots, events);
    await().until(() -> f.cp.dataPlanes().size() == 1);

    f.cp.publish(
        "{\"services\":[{\"name\":\"a\",\"plugins\":[{\"name\":\"key-auth\"}]}],"
            + "\"plugins\":[{\"name\":\"rate-limiting\"}]}");
    await().until(() -> node(client).syncStatus() == DataPlaneSyncStatus.PLUGIN_SET_INCOMPATIBLE);
    assertThat(node(client).syncStatusReason()).contains("key-auth");
    assertThat(snapshots).isEmpty();

    PublishResult ok = f.cp.publish("{\"plugins\":[{\"name\":\"rate-limiting\"}]}");
    await().until(() -> ok.hash().equals(client.status().hash()));
    assertThat(node(client).syncStatus()).isEqualTo(DataPlaneSyncStatus.NORMAL);
  }

  @Test
  void aPluginOfAnotherMajorVersionIsIncompatible() throws Exception {
    f.start(b -> b.capability("rate-limiting", "2.1.0"));
    ConfigSyncClient client =
        f.startClient(c -> c.capability("rate-limiting", "3.9.0"), snapshots, events);
    await().until(() -> f.cp.dataPlanes().size() == 1);
    f.cp.publish("{\"plugins\":[{\"name\":\"rate-limiting\"}]}");
    await()
        .until(() -> node(client).syncStatus() == DataPlaneSyncStatus.PLUGIN_VERSION_INCOMPATIBLE);
    assertThat(node(client).syncStatusReason()).contains("3.9.0").contains("2.1.0");
    assertThat(snapshots).isEmpty();
  }

  @Test
  void aRestartWithTheFileStoreBringsNodesBackOnTheSameHashWithoutReapplying() throws Exception {
    Path store = dir.resolve("cp-store");
    FileConfigStore fileStore = FileConfigStore.open(store, 64 << 20);
    f.start(b -> b.configStore(fileStore));
    int port = f.cp.address().getPort();
    ConfigSyncClient client =
        f.startClient(
            c -> {
              try {
                return c.snapshotStore(FileSnapshotStore.open(dir.resolve("dp-cache")));
              } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            },
            snapshots,
            events);
    PublishResult published = f.cp.publish(config(7));
    await().until(() -> published.hash().equals(client.status().hash()));
    long connectsBefore = events.stream().filter(e -> e instanceof SyncEvent.Connected).count();

    f.cp.close();
    await().until(() -> events.stream().anyMatch(e -> e instanceof SyncEvent.Disconnected));
    f.cp =
        f.builder()
            .listen("127.0.0.1", port)
            .configStore(FileConfigStore.open(store, 64 << 20))
            .start();

    assertThat(f.cp.currentConfig())
        .get()
        .extracting(PublishedConfig::hash)
        .isEqualTo(published.hash());
    assertThat(f.cp.currentConfig().get().publishedAt()).isEqualTo(published.publishedAt());
    await()
        .until(
            () ->
                events.stream().filter(e -> e instanceof SyncEvent.Connected).count()
                    > connectsBefore);
    await()
        .until(
            () ->
                !f.cp.dataPlanes().isEmpty() && node(client).configHash().equals(published.hash()));
    await().during(Duration.ofMillis(500)).until(() -> snapshots.size() == 1);
    assertThat(events.stream().filter(e -> e instanceof SyncEvent.SnapshotApplied).count())
        .isEqualTo(1);
  }

  @Test
  void versionsOnlyGrowAcrossARestartWithTheFileStore() throws Exception {
    Path store = dir.resolve("cp-store");
    f.start(b -> b.configStore(openStore(store)));
    long first = f.cp.publish(config(1)).version();
    long second = f.cp.publish(config(2)).version();
    assertThat(second).isGreaterThan(first);
    f.cp.close();

    FileConfigStore reopened = openStore(store);
    assertThat(reopened.load()).isPresent();
    assertThat(reopened.loadedRevision()).isEqualTo(second);
    f.cp = f.builder().configStore(reopened).start();
    long third = f.cp.publish(config(3)).version();
    assertThat(third).isGreaterThan(second);
    assertThat(f.cp.history(10).get(0).revision()).isEqualTo(third);
  }

  @Test
  void theFileStoreNumbersItsSavesAndKeepsTheNumberBesideTheFile() throws Exception {
    Path store = dir.resolve("cp-store");
    FileConfigStore files = openStore(store);
    assertThat(files.load()).isEmpty();
    assertThat(files.loadedRevision()).isZero();
    byte[] frame = new byte[] {0x1f, (byte) 0x8b, 0};
    assertThat(files.save(frame, "a", null)).isEqualTo(1);
    assertThat(files.save(frame, "b", "a")).isEqualTo(2);
    assertThat(java.nio.file.Files.readString(store.resolve("config.version")).trim())
        .isEqualTo("2");
    // A crash after the number was written and before the configuration's rename: a gap, never
    // a number used twice.
    java.nio.file.Files.writeString(store.resolve("config.version"), "5\n");
    java.nio.file.Files.writeString(store.resolve(".config.version.1a2b.tmp"), "9");
    FileConfigStore reopened = openStore(store);
    assertThat(store.resolve(".config.version.1a2b.tmp")).doesNotExist();
    assertThat(reopened.load()).isPresent();
    assertThat(reopened.loadedRevision()).isEqualTo(5);
    assertThat(reopened.save(frame, "c", "b")).isEqualTo(6);
    java.nio.file.Files.writeString(store.resolve("config.version"), "garbage");
    assertThatThrownBy(() -> FileConfigStore.open(store, 64 << 20))
        .isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("config.version")
        .hasMessageContaining("does not hold a version number");
  }

  private static FileConfigStore openStore(Path directory) {
    try {
      return FileConfigStore.open(directory, 64 << 20);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void aDamagedStoreStopsTheControlPlaneFromStartingRatherThanStartingEmpty() throws Exception {
    Path store = dir.resolve("cp-store");
    java.nio.file.Files.createDirectories(store);
    java.nio.file.Files.write(
        store.resolve("config.json.gz"), new byte[] {0x1f, (byte) 0x8b, 1, 2});
    FileConfigStore damaged = FileConfigStore.open(store, 1 << 20);
    assertThatThrownBy(() -> f.start(b -> b.configStore(damaged)))
        .isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("damaged")
        .hasMessageContaining(store.resolve("config.json.gz").toString());
  }

  @Test
  void refusesConfigurationsItCannotPublish() throws Exception {
    f.start(
        b ->
            b.maxPayloadBytes(2048)
                .validator(
                    c -> {
                      if (c.has("forbidden")) {
                        throw new IllegalArgumentException("'forbidden' is not allowed");
                      }
                    }));
    assertThatThrownBy(() -> f.cp.publish("[1,2]"))
        .isInstanceOf(InvalidConfigurationException.class)
        .hasMessageContaining("must be a JSON object");
    assertThatThrownBy(() -> f.cp.publish("{\"a\":"))
        .isInstanceOf(InvalidConfigurationException.class)
        .hasMessageContaining("not valid JSON at line 1");
    assertThatThrownBy(() -> f.cp.publish("{\"a\":1,\"a\":2}"))
        .isInstanceOf(InvalidConfigurationException.class)
        .hasMessageContaining("Duplicate field");
    assertThatThrownBy(() -> f.cp.publish("{\"forbidden\":true}"))
        .isInstanceOf(InvalidConfigurationException.class)
        .hasMessageContaining("'forbidden' is not allowed");
    StringBuilder big = new StringBuilder("{\"blob\":\"");
    java.util.Random random = new java.util.Random(1);
    for (int i = 0; i < 10_000; i++) {
      big.append(Integer.toHexString(random.nextInt()));
    }
    assertThatThrownBy(() -> f.cp.publish(big + "\"}"))
        .isInstanceOfSatisfying(
            InvalidConfigurationException.class, e -> assertThat(e.isTooLarge()).isTrue())
        .hasMessageContaining("data planes accept at most 2048");
    assertThat(f.cp.currentConfig()).isEmpty();
  }

  @Test
  void nodesAreForgottenSomeTimeAfterTheyDisconnect() throws Exception {
    f.start(b -> b.forgetAfter(Duration.ofMillis(300)));
    ConfigSyncClient client = f.startClient(c -> c, snapshots, events);
    await().until(() -> f.cp.dataPlanes().size() == 1);
    client.close();
    await().until(() -> f.cp.dataPlanes().isEmpty() || !f.cp.dataPlanes().get(0).connected());
    await().atMost(Duration.ofSeconds(30)).until(() -> f.cp.dataPlanes().isEmpty());
  }

  @Test
  void twoHundredDataPlanesAllReceiveAPublishAndReportItsHash() throws Exception {
    // The control plane must expect the heartbeat the nodes use, or it drops them as dead.
    f.start(
        b -> b.heartbeatInterval(Duration.ofSeconds(5)).handshakeTimeout(Duration.ofSeconds(30)));
    OkHttpTransport shared = OkHttpTransport.create(f.dataPlaneTls());
    int nodes = 200;
    for (int i = 0; i < nodes; i++) {
      // Generous timeouts and a real jitter window: 200 TLS handshakes on a loaded 2-core machine
      // must not turn into a storm of abandoned attempts.
      f.startClient(
          shared,
          c ->
              c.heartbeatInterval(Duration.ofSeconds(5))
                  .deadAfter(Duration.ofMillis(7500))
                  .handshakeTimeout(Duration.ofSeconds(30))
                  .reconnectDelay(Duration.ofSeconds(1), Duration.ofSeconds(3)),
          snapshots,
          events);
    }
    await()
        .atMost(Duration.ofMinutes(2))
        .until(() -> f.cp.dataPlanes().stream().filter(DataPlaneInfo::connected).count() == nodes);

    PublishResult result = f.cp.publish(config(200));

    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                f.cp.dataPlanes().stream().filter(n -> n.configHash().equals(result.hash())).count()
                    == nodes);
    assertThat(f.clients).allSatisfy(c -> assertThat(c.status().hash()).isEqualTo(result.hash()));
    assertThat(snapshots)
        .hasSize(nodes)
        .allSatisfy(
            s -> {
              assertThat(s.hash()).isEqualTo(result.hash());
              assertThat(s.source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
            });
    assertThat(ConfigHash.isValidHash(result.hash())).isTrue();
  }
}
