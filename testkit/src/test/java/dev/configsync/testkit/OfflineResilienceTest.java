package dev.configsync.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigRejectedException;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.cache.YamlConfigFormat;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.okhttp.OkHttpTransport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A data plane whose control plane is away: damaged or missing caches, fallback files, and
 * configurations loaded by hand. Real files, real mutual TLS on 127.0.0.1.
 */
class OfflineResilienceTest {
  private static final Duration HEARTBEAT = Duration.ofMillis(200);
  private static final Duration DEAD_AFTER = Duration.ofMillis(300);
  private static final Duration RETRY_MIN = Duration.ofMillis(100);
  private static final Duration RETRY_MAX = Duration.ofMillis(200);
  private static final String CACHE_FILE = "config.json.gz";

  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private TestControlPlane cp;
  private final List<Node> nodes = new ArrayList<>();

  /** A client and everything its listeners heard. */
  private record Node(
      ConfigSyncClient client, Path cacheDir, List<SyncEvent> events, List<ConfigSnapshot> seen) {

    <T extends SyncEvent> List<T> events(Class<T> type) {
      return events.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends SyncEvent> T awaitEvent(Class<T> type) {
      await().until(() -> !events(type).isEmpty());
      return events(type).get(0);
    }

    int indexOf(Class<? extends SyncEvent> type) {
      for (int i = 0; i < events.size(); i++) {
        if (type.isInstance(events.get(i))) {
          return i;
        }
      }
      return -1;
    }

    Optional<String> hash() {
      return client.current().map(ConfigSnapshot::hash);
    }

    /**
     * Waits until the node runs {@code hash} and its listeners were told: {@code current()} is set
     * on the sync loop before the listener executor delivers the snapshot and its event.
     */
    void awaitRunning(String hash) {
      await()
          .until(
              () ->
                  hash().equals(Optional.of(hash))
                      && seen.stream().anyMatch(s -> s.hash().equals(hash))
                      && events(SyncEvent.SnapshotApplied.class).stream()
                          .anyMatch(e -> e.hash().equals(hash)));
    }
  }

  @BeforeEach
  void startControlPlane() {
    cp = TestControlPlane.start(pki);
  }

  @AfterEach
  void stopEverything() {
    nodes.forEach(n -> n.client().close());
    cp.close();
  }

  private Node node(Path cacheDir, UnaryOperator<ConfigSyncClient.Builder> extra)
      throws IOException {
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    List<ConfigSnapshot> seen = new CopyOnWriteArrayList<>();
    ConfigSyncClient client =
        extra
            .apply(
                ConfigSyncClient.builder()
                    .controlPlane(cp.uri())
                    .transport(OkHttpTransport.create(pki.dataPlaneTls()))
                    .snapshotStore(FileSnapshotStore.open(cacheDir))
                    .heartbeatInterval(HEARTBEAT)
                    .deadAfter(DEAD_AFTER)
                    .reconnectDelay(RETRY_MIN, RETRY_MAX)
                    .handshakeTimeout(Duration.ofSeconds(5))
                    .onSnapshot(seen::add)
                    .onEvent(events::add))
            .build();
    Node node = new Node(client, cacheDir, events, seen);
    nodes.add(node);
    return node;
  }

  private Node started(Path cacheDir) throws IOException {
    return started(cacheDir, b -> b);
  }

  private Node started(Path cacheDir, UnaryOperator<ConfigSyncClient.Builder> extra)
      throws IOException {
    Node node = node(cacheDir, extra);
    node.client().start();
    return node;
  }

  private static String config(String name) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\""
        + name
        + "\",\"url\":\"http://backend:8080\",\"routes\":[{\"name\":\"r-"
        + name
        + "\",\"paths\":[\"/"
        + name
        + "\"]}]}]}";
  }

  private static JsonNode tree(String json) {
    try {
      return Json.readFrozen(json.getBytes(UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String hashOf(String json) {
    return ConfigHash.configHash(tree(json));
  }

  private static byte[] payload(String json) {
    return HybridProtocol.reconfigure(tree(json), System.currentTimeMillis() / 1000.0);
  }

  /** The hash in the node's cache file, after checking that it matches the content. */
  private static String cachedHash(Path cacheDir) throws IOException {
    byte[] gz = Files.readAllBytes(cacheDir.resolve(CACHE_FILE));
    JsonNode message = Json.readFrozen(Gzip.decompress(gz, 64L * 1024 * 1024));
    String claimed = message.path("config_hash").asText();
    assertThat(ConfigHash.configHash(message.path("config_table"))).isEqualTo(claimed);
    return claimed;
  }

  private static List<String> brokenFiles(Path cacheDir) throws IOException {
    try (Stream<Path> files = Files.list(cacheDir)) {
      return files
          .map(p -> p.getFileName().toString())
          .filter(n -> n.startsWith(CACHE_FILE + ".broken-"))
          .toList();
    }
  }

  /** A node that got {@code json} from the control plane and cached it; closed. Returns its dir. */
  private Path nodeThatCached(String name, String json) throws IOException {
    String hash = cp.publish(json);
    Node other = started(dir.resolve(name));
    other.awaitRunning(hash);
    other.client().close();
    assertThat(cachedHash(other.cacheDir())).isEqualTo(hash);
    return other.cacheDir();
  }

  // ---- damaged cache ----------------------------------------------------------------------

  /** Ways a cache file goes bad. */
  enum Damage {
    EMPTY_FILE {
      @Override
      void inflict(Path file) throws IOException {
        Files.write(file, new byte[0]);
      }
    },
    TRUNCATED_GZIP {
      @Override
      void inflict(Path file) throws IOException {
        byte[] valid = payload(config("cached"));
        Files.write(file, Arrays.copyOf(valid, valid.length - 10));
      }
    },
    FLIPPED_BYTE {
      @Override
      void inflict(Path file) throws IOException {
        byte[] bytes = payload(config("cached"));
        bytes[bytes.length / 2] ^= (byte) 0xff;
        Files.write(file, bytes);
      }
    },
    GZIP_OF_INVALID_JSON {
      @Override
      void inflict(Path file) throws IOException {
        Files.write(
            file, Gzip.compress("{\"type\":\"reconfigure\",\"config_table\":{".getBytes(UTF_8)));
      }
    },
    HASH_MISMATCH {
      @Override
      void inflict(Path file) throws IOException {
        Files.write(file, forged(config("cached"), hashOf(config("something-else"))));
      }
    },
    UNREADABLE_DIRECTORY {
      @Override
      void inflict(Path file) throws IOException {
        Files.createDirectories(file.resolve("inside"));
      }
    };

    abstract void inflict(Path file) throws IOException;
  }

  /** A well-formed reconfigure payload whose config_hash lies. */
  private static byte[] forged(String json, String claimedHash) {
    String message =
        "{\"type\":\"reconfigure\",\"timestamp\":1.5,\"config_table\":"
            + json
            + ",\"config_hash\":\""
            + claimedHash
            + "\"}";
    return Gzip.compress(message.getBytes(UTF_8));
  }

  private Path damagedCacheDir(Damage damage) throws IOException {
    Path cacheDir = Files.createDirectories(dir.resolve("cache"));
    damage.inflict(cacheDir.resolve(CACHE_FILE));
    return cacheDir;
  }

  @ParameterizedTest
  @EnumSource(Damage.class)
  void damagedCacheIsMovedAsideAndNeverServed(Damage damage) throws IOException {
    Path cacheDir = damagedCacheDir(damage);
    cp.stop();
    String published = cp.publish(config("from-cp"));

    Node node = started(cacheDir); // does not throw

    assertThat(node.client().current()).isEmpty();
    assertThat(node.client().status().hasConfiguration()).isFalse();
    SyncEvent.CacheDamaged damaged = node.awaitEvent(SyncEvent.CacheDamaged.class);
    assertThat(damaged.reason()).isNotBlank();
    assertThat(damaged.movedTo()).startsWith(CACHE_FILE + ".broken-");
    assertThat(brokenFiles(cacheDir)).containsExactly(damaged.movedTo());
    assertThat(cacheDir.resolve(CACHE_FILE)).doesNotExist();
    node.awaitEvent(SyncEvent.StartedEmpty.class);
    assertThat(node.indexOf(SyncEvent.CacheDamaged.class))
        .isLessThan(node.indexOf(SyncEvent.StartedEmpty.class));
    await().until(() -> node.client().status().connectAttempts() >= 2);
    assertThat(node.client().current()).isEmpty();

    cp.restart();

    node.awaitRunning(published);
    assertThat(node.client().current().get().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(cachedHash(cacheDir)).isEqualTo(published);
    // Nothing but the control plane's configuration was ever handed to the gateway.
    assertThat(node.seen()).extracting(ConfigSnapshot::hash).containsExactly(published);
    assertThat(node.events(SyncEvent.SnapshotApplied.class))
        .extracting(SyncEvent.SnapshotApplied::source)
        .containsOnly(SnapshotSource.CONTROL_PLANE);
  }

  @Test
  void damagedCacheFallsThroughToFallbackConfig() throws IOException {
    Path cacheDir = damagedCacheDir(Damage.TRUNCATED_GZIP);
    Path fallback =
        Files.writeString(
            dir.resolve("kong.yml"),
            """
            _format_version: "3.0"
            services:
              - name: fallback
                url: http://backend:8080
                routes:
                  - name: r-fallback
                    paths: [/fallback]
            """);
    String fallbackHash =
        ConfigHash.configHash(new YamlConfigFormat().read(fallback, Long.MAX_VALUE));
    assertThat(fallbackHash).isEqualTo(hashOf(config("fallback")));
    cp.stop();
    String published = cp.publish(config("from-cp"));

    Node node = started(cacheDir, b -> b.fallbackConfig(fallback));

    assertThat(node.client().current()).isPresent();
    ConfigSnapshot running = node.client().current().get();
    assertThat(running.source()).isEqualTo(SnapshotSource.FALLBACK);
    assertThat(running.hash()).isEqualTo(fallbackHash);
    assertThat(node.client().status().source()).isEqualTo(SnapshotSource.FALLBACK);
    node.awaitEvent(SyncEvent.CacheDamaged.class);
    SyncEvent.SnapshotApplied applied = node.awaitEvent(SyncEvent.SnapshotApplied.class);
    assertThat(applied.source()).isEqualTo(SnapshotSource.FALLBACK);
    assertThat(node.events(SyncEvent.StartedEmpty.class)).isEmpty();
    // The fallback is never cached, even while the node keeps trying.
    await().until(() -> node.client().status().connectAttempts() >= 2);
    assertThat(cacheDir.resolve(CACHE_FILE)).doesNotExist();
    assertThat(node.events(SyncEvent.CacheWritten.class)).isEmpty();

    cp.restart();

    node.awaitRunning(published);
    assertThat(node.client().current().get().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(cachedHash(cacheDir)).isEqualTo(published);
    assertThat(node.events(SyncEvent.SnapshotApplied.class))
        .extracting(SyncEvent.SnapshotApplied::source, SyncEvent.SnapshotApplied::previousHash)
        .containsExactly(
            tuple(SnapshotSource.FALLBACK, null),
            tuple(SnapshotSource.CONTROL_PLANE, fallbackHash));
    assertThat(node.events(SyncEvent.CacheWritten.class))
        .extracting(SyncEvent.CacheWritten::hash)
        .containsExactly(published);
  }

  // ---- no cache at all --------------------------------------------------------------------

  @Test
  void deletedCacheStartsEmptyLoudlyThenTakesControlPlaneConfig() throws IOException {
    Path cacheDir = nodeThatCached("cache", config("before"));
    Files.delete(cacheDir.resolve(CACHE_FILE));
    cp.stop();
    String published = cp.publish(config("after"));

    Node node = started(cacheDir);

    assertThat(node.client().current()).isEmpty();
    assertThat(node.client().status().hasConfiguration()).isFalse();
    assertThat(node.client().isServing()).isTrue();
    SyncEvent.StartedEmpty empty = node.awaitEvent(SyncEvent.StartedEmpty.class);
    assertThat(empty.reason()).contains("no valid cached configuration");
    assertThat(node.events(SyncEvent.CacheDamaged.class)).isEmpty();
    await().until(() -> node.client().status().connectAttempts() >= 2);
    assertThat(node.client().status().hasConfiguration()).isFalse();

    cp.restart();

    node.awaitRunning(published);
    assertThat(node.client().status().hasConfiguration()).isTrue();
    assertThat(node.client().isServing()).isTrue();
    assertThat(cachedHash(cacheDir)).isEqualTo(published);
  }

  @Test
  void invalidFallbackIsReportedWithFileLineAndColumn() throws IOException {
    // A tab used for indentation at line 3, column 1.
    Path fallback =
        Files.writeString(
            dir.resolve("fallback.yml"), "services:\n  - name: a\n\turl: http://backend\n");
    cp.stop();
    String published = cp.publish(config("from-cp"));

    Node node = started(dir.resolve("cache"), b -> b.fallbackConfig(fallback));

    assertThat(node.client().current()).isEmpty();
    SyncEvent.SnapshotRejected rejected = node.awaitEvent(SyncEvent.SnapshotRejected.class);
    assertThat(rejected.source()).isEqualTo(SnapshotSource.FALLBACK);
    assertThat(rejected.reason()).isEqualTo(ConfigRejectedException.Reason.BAD_FILE);
    assertThat(rejected.hash()).isNull();
    assertThat(rejected.message()).contains("fallback.yml:3:1");
    SyncEvent.StartedEmpty empty = node.awaitEvent(SyncEvent.StartedEmpty.class);
    assertThat(empty.reason()).contains("no usable fallback configuration");
    assertThat(node.indexOf(SyncEvent.SnapshotRejected.class))
        .isLessThan(node.indexOf(SyncEvent.StartedEmpty.class));
    // Still running: it keeps dialling, and takes the control plane's configuration when it can.
    await().until(() -> node.client().status().connectAttempts() >= 2);
    assertThat(node.client().status().state()).isNotEqualTo(SyncState.CLOSED);
    assertThat(node.client().isServing()).isTrue();

    cp.restart();

    node.awaitRunning(published);
  }

  // ---- loading by hand --------------------------------------------------------------------

  /** Files an operator may load by hand. */
  enum ManualFile {
    JSON_TABLE,
    YAML,
    CACHE_FILE_FROM_ANOTHER_NODE
  }

  /** Writes a file holding {@code config("manual")} in the given form; returns it. */
  private Path manualFile(ManualFile kind) throws IOException {
    Path usb = Files.createDirectories(dir.resolve("usb"));
    return switch (kind) {
      case JSON_TABLE -> Files.writeString(usb.resolve("manual.json"), config("manual"));
      case YAML ->
          Files.writeString(
              usb.resolve("manual.yaml"),
              """
              _format_version: "3.0"
              services:
                - name: manual
                  url: http://backend:8080
                  routes:
                    - {name: r-manual, paths: [/manual]}
              """);
      case CACHE_FILE_FROM_ANOTHER_NODE ->
          Files.copy(
              nodeThatCached("node-a", config("manual")).resolve(CACHE_FILE),
              usb.resolve(CACHE_FILE));
    };
  }

  @ParameterizedTest
  @EnumSource(ManualFile.class)
  void manualLoadWhileDisconnected(ManualFile kind) throws Exception {
    Path file = manualFile(kind);
    String manualHash = hashOf(config("manual"));
    cp.stop();
    String published = cp.publish(config("from-cp"));
    Path cacheDir = dir.resolve("cache");
    Node node = started(cacheDir);
    node.awaitEvent(SyncEvent.StartedEmpty.class);
    await().until(() -> node.client().status().state() != SyncState.CONNECTED);

    ConfigSnapshot loaded = node.client().loadManual(file);

    assertThat(loaded.source()).isEqualTo(SnapshotSource.MANUAL);
    assertThat(loaded.hash()).isEqualTo(manualHash);
    assertThat(node.client().current()).containsSame(loaded);
    assertThat(node.client().status().source()).isEqualTo(SnapshotSource.MANUAL);
    assertThat(cachedHash(cacheDir)).isEqualTo(manualHash);
    // Re-encoded with its origin (outside config_table, so the hash stays), to survive restarts.
    assertThat(
            new String(
                Gzip.decompress(Files.readAllBytes(cacheDir.resolve(CACHE_FILE)), 1 << 24),
                java.nio.charset.StandardCharsets.UTF_8))
        .contains("\"configsync_origin\":\"manual\"");
    node.awaitEvent(SyncEvent.CacheWritten.class);

    // A restart while the control plane is still down comes back on it, from the cache, still
    // known as manual. (Only reads the directory, and is closed before anything is written.)
    Node restarted = started(cacheDir);
    assertThat(restarted.client().current()).isPresent();
    assertThat(restarted.client().current().get().hash()).isEqualTo(manualHash);
    assertThat(restarted.client().current().get().source()).isEqualTo(SnapshotSource.MANUAL);
    restarted.client().close();

    cp.restart();

    node.awaitRunning(published);
    assertThat(node.client().current().get().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    SyncEvent.ManualConfigReplaced replaced = node.awaitEvent(SyncEvent.ManualConfigReplaced.class);
    assertThat(replaced.manualHash()).isEqualTo(manualHash);
    assertThat(replaced.hash()).isEqualTo(published);
    assertThat(cachedHash(cacheDir)).isEqualTo(published);
  }

  @Test
  void manualLoadWhileConnectedIsRefusedUnlessForced() throws Exception {
    String first = cp.publish(config("from-cp"));
    Path cacheDir = dir.resolve("cache");
    Node node = started(cacheDir);
    node.awaitRunning(first);
    await().until(() -> node.client().status().state() == SyncState.CONNECTED);
    Path file = manualFile(ManualFile.JSON_TABLE);
    String manualHash = hashOf(config("manual"));

    assertThatThrownBy(() -> node.client().loadManual(file))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("connected")
        .hasMessageContaining("force");
    assertThat(node.hash()).contains(first);
    assertThat(cachedHash(cacheDir)).isEqualTo(first);

    ConfigSnapshot forced = node.client().loadManual(file, true);

    assertThat(forced.source()).isEqualTo(SnapshotSource.MANUAL);
    assertThat(forced.hash()).isEqualTo(manualHash);
    assertThat(node.client().current()).containsSame(forced);
    assertThat(cachedHash(cacheDir)).isEqualTo(manualHash);

    String next = cp.publish(config("from-cp-2"));

    node.awaitRunning(next);
    assertThat(node.client().current().get().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    SyncEvent.ManualConfigReplaced replaced = node.awaitEvent(SyncEvent.ManualConfigReplaced.class);
    assertThat(replaced.manualHash()).isEqualTo(manualHash);
    assertThat(replaced.hash()).isEqualTo(next);
    assertThat(cachedHash(cacheDir)).isEqualTo(next);
  }

  @Test
  void manualLoadOfForgedCopyIsRefused() throws Exception {
    Path cacheDir = Files.createDirectories(dir.resolve("cache"));
    byte[] good = payload(config("cached"));
    Files.write(cacheDir.resolve(CACHE_FILE), good);
    String claimed = hashOf(config("cached"));
    Path forgedFile =
        Files.write(
            Files.createDirectories(dir.resolve("usb")).resolve(CACHE_FILE),
            forged(config("evil"), claimed));
    cp.stop();
    Node node = started(cacheDir);
    ConfigSnapshot before = node.client().current().orElseThrow();
    assertThat(before.hash()).isEqualTo(claimed);
    node.awaitEvent(SyncEvent.SnapshotApplied.class);

    assertThatThrownBy(() -> node.client().loadManual(forgedFile))
        .isInstanceOf(ConfigFileException.class)
        .hasMessageContaining(forgedFile.toString())
        .hasMessageContaining("config_hash " + claimed + " does not match the content");

    assertThat(node.client().current()).containsSame(before);
    assertThat(node.client().status().source()).isEqualTo(SnapshotSource.CACHE);
    assertThat(Files.readAllBytes(cacheDir.resolve(CACHE_FILE))).isEqualTo(good);
    assertThat(node.events(SyncEvent.SnapshotApplied.class)).hasSize(1);
    assertThat(brokenFiles(cacheDir)).isEmpty();
  }

  @Test
  void copiedCacheFileSeedsAStoppedNode() throws IOException {
    Path nodeA = nodeThatCached("node-a", config("from-a"));
    String hashA = hashOf(config("from-a"));
    String idA = Files.readString(nodeA.resolve("node.id")).trim();
    Path cacheB = Files.createDirectories(dir.resolve("node-b"));
    Files.copy(nodeA.resolve(CACHE_FILE), cacheB.resolve(CACHE_FILE));
    cp.stop();

    Node b = started(cacheB);

    assertThat(b.client().current()).isPresent();
    assertThat(b.client().current().get().hash()).isEqualTo(hashA);
    assertThat(b.client().current().get().source()).isEqualTo(SnapshotSource.CACHE);
    assertThat(b.client().status().nodeId().toString()).isNotEqualTo(idA);
    assertThat(Files.readString(cacheB.resolve("node.id")).trim())
        .isEqualTo(b.client().status().nodeId().toString());
    await().until(() -> b.client().status().connectAttempts() >= 2);
    assertThat(b.hash()).contains(hashA);
    assertThat(b.events(SyncEvent.CacheDamaged.class)).isEmpty();
  }

  @Test
  void aNewNodeStartedDuringAnOutageRunsTheBackupOfAHealthyNode() throws Exception {
    Path shared = Files.createDirectories(dir.resolve("shared-backups"));
    var store = dev.configsync.cache.DirectoryBackupStore.open(shared);
    String published = cp.publish(config("fleet"));
    Node healthy = started(dir.resolve("healthy"), b -> b.backupExport(store));
    healthy.awaitRunning(published);
    healthy.awaitEvent(SyncEvent.BackupExported.class);
    cp.stop();

    Node fresh = started(dir.resolve("fresh"), b -> b.backupImport(store));

    fresh.awaitRunning(published);
    assertThat(fresh.client().current().get().source()).isEqualTo(SnapshotSource.BACKUP);
    assertThat(cachedHash(dir.resolve("fresh"))).isEqualTo(published);
    // The control plane's configuration takes over when it is back.
    String next = cp.publish(config("after-outage"));
    cp.restart();
    fresh.awaitRunning(next);
  }

  @Test
  void forgedLicenseOverRealConnectionIsRefusedAndTheLastGoodStays() throws Exception {
    java.security.KeyPair vendor = dev.configsync.license.LicenseSigner.generateKeyPair();
    java.security.KeyPair forger = dev.configsync.license.LicenseSigner.generateKeyPair();
    var terms =
        new dev.configsync.License(
            "Example Co",
            "KEY-0000-1111",
            "Enterprise",
            3,
            java.time.LocalDate.now(java.time.ZoneOffset.UTC),
            java.time.LocalDate.now(java.time.ZoneOffset.UTC).plusYears(1));
    var good =
        dev.configsync.license.LicenseSigner.withLicense(
            Json.readFrozen(config("licensed").getBytes(java.nio.charset.StandardCharsets.UTF_8)),
            new dev.configsync.license.LicenseSigner(vendor.getPrivate()).sign(terms));
    var forged =
        dev.configsync.license.LicenseSigner.withLicense(
            Json.readFrozen(config("forged").getBytes(java.nio.charset.StandardCharsets.UTF_8)),
            new dev.configsync.license.LicenseSigner(forger.getPrivate()).sign(terms));
    String goodHash = cp.publish(good);
    Node node = started(dir.resolve("licensed"), b -> b.licenseKey(vendor.getPublic()));
    node.awaitRunning(goodHash);
    assertThat(node.client().status().licenseState()).isEqualTo(dev.configsync.LicenseState.VALID);

    cp.publish(forged);

    SyncEvent.SnapshotRejected rejected = node.awaitEvent(SyncEvent.SnapshotRejected.class);
    assertThat(rejected.reason()).isEqualTo(dev.configsync.ConfigRejectedException.Reason.LICENSE);
    assertThat(node.client().status().hash()).isEqualTo(goodHash);
    assertThat(cachedHash(dir.resolve("licensed"))).isEqualTo(goodHash);
    assertThat(node.client().isServing()).isTrue();
  }
}
