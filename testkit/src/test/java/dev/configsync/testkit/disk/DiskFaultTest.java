package dev.configsync.testkit.disk;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.ConfigSyncException;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import dev.configsync.testkit.disk.FaultyFileSystem.Fault;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A cache write that fails (disk full, failing fsync or rename) or hangs, on an injected file
 * system: the previous cache stays whole, no temporary file remains, the failure is reported, the
 * node goes on serving the new configuration, and the next write after the fault succeeds.
 */
class DiskFaultTest {
  private static final String CACHE_FILE = "config.json.gz";

  @TempDir Path dir;

  private final FaultyFileSystem fs = new FaultyFileSystem();
  private final TestPki pki = TestPki.create();
  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private TestControlPlane cp;

  @AfterEach
  void stopEverything() {
    fs.heal(); // a hung fsync would otherwise hold a cache-writer thread for ever
    clients.forEach(ConfigSyncClient::close);
    if (cp != null) {
      cp.close();
    }
  }

  /** Ways a cache write fails, and what each leaves under the real name. */
  enum DiskFault {
    /** The disk fills up part-way through the temporary file. */
    DISK_FULL_DURING_WRITE(FaultyFileSystem.NO_SPACE, true) {
      @Override
      void inject(FaultyFileSystem fs) {
        fs.spaceLeft(1000);
      }
    },
    /** No inode left: the temporary file cannot even be created. */
    NO_INODE_FOR_TEMPORARY_FILE(FaultyFileSystem.NO_SPACE, true) {
      @Override
      void inject(FaultyFileSystem fs) {
        fs.fail(Fault.CREATE_FILE);
      }
    },
    /** fsync of the temporary file reports a write-back error. */
    FSYNC_OF_FILE_FAILS("Input/output error", true) {
      @Override
      void inject(FaultyFileSystem fs) {
        fs.fail(Fault.FORCE_FILE);
      }
    },
    /** The rename over the cache file fails. */
    RENAME_FAILS(FaultyFileSystem.NO_SPACE, true) {
      @Override
      void inject(FaultyFileSystem fs) {
        fs.fail(Fault.RENAME);
      }
    },
    /**
     * fsync of the directory fails after the rename: the new file is in place, maybe not durable.
     */
    FSYNC_OF_DIRECTORY_FAILS("Input/output error", false) {
      @Override
      void inject(FaultyFileSystem fs) {
        fs.fail(Fault.FORCE_DIRECTORY);
      }
    };

    final String message;
    final boolean keepsPrevious;

    DiskFault(String message, boolean keepsPrevious) {
      this.message = message;
      this.keepsPrevious = keepsPrevious;
    }

    abstract void inject(FaultyFileSystem fs);
  }

  // ---- the store alone ------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(DiskFault.class)
  void failedWriteLeavesAWholeCacheNoTemporaryFileAndTheNextWriteWorks(DiskFault fault)
      throws IOException {
    Path realDir = dir.resolve("cache");
    FileSnapshotStore store = FileSnapshotStore.open(fs.path(realDir));
    byte[] previous = payload("previous", 100);
    byte[] refused = payload("refused", 64 * 1024);
    byte[] next = payload("next", 64 * 1024);
    store.write(previous);
    fault.inject(fs);

    assertThatThrownBy(() -> store.write(refused))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(fault.message);

    assertThat(fs.failures()).as("the fault was hit").isNotEmpty();
    assertThat(Files.readAllBytes(realDir.resolve(CACHE_FILE)))
        .isEqualTo(fault.keepsPrevious ? previous : refused);
    assertThat(temporaryFiles(realDir)).isEmpty();
    assertThat(fs.openChannels()).as("file channels left open").isZero();

    fs.heal();
    store.write(next);

    assertThat(Files.readAllBytes(realDir.resolve(CACHE_FILE))).isEqualTo(next);
    assertThat(FileSnapshotStore.open(realDir).read()).contains(next);
    assertThat(temporaryFiles(realDir)).isEmpty();
    assertThat(fs.openChannels()).isZero();
  }

  // ---- a node over real mutual TLS ------------------------------------------------------------

  @Test
  void nodeOnAFullDiskKeepsServingNewConfigurationsAndCachesAgainWhenSpaceReturns()
      throws Exception {
    cp = TestControlPlane.start(pki);
    Path realDir = dir.resolve("cache");
    String first = cp.publish(config("first", 100));
    Node node = start(fs.path(realDir));
    node.awaitRunning(first);
    byte[] cachedFirst = Files.readAllBytes(realDir.resolve(CACHE_FILE));
    assertThat(hashOf(cachedFirst)).isEqualTo(first);

    fs.spaceLeft(0);
    String second = cp.publish(config("second", 32 * 1024));

    SyncEvent.CacheWriteFailed failed = node.awaitEvent(SyncEvent.CacheWriteFailed.class, second);
    assertThat(failed.reason()).contains(FaultyFileSystem.NO_SPACE);
    node.awaitRunning(second); // applied anyway
    assertThat(node.client().isServing()).isTrue();
    assertThat(node.client().status().state()).isEqualTo(SyncState.CONNECTED);
    await() // the control plane hears of it too
        .until(
            () -> cp.lastReportedHash(node.client().status().nodeId()),
            h -> h.equals(Optional.of(second)));
    assertThat(node.index(SyncEvent.CacheWriteFailed.class, second))
        .isLessThan(node.index(SyncEvent.SnapshotApplied.class, second));
    assertThat(node.events(SyncEvent.CacheWritten.class, second)).isEmpty();
    assertThat(Files.readAllBytes(realDir.resolve(CACHE_FILE))).isEqualTo(cachedFirst);
    assertThat(temporaryFiles(realDir)).isEmpty();
    assertThat(fs.openChannels()).isZero();

    // Still full: the next configuration is taken too.
    String third = cp.publish(config("third", 32 * 1024));
    node.awaitEvent(SyncEvent.CacheWriteFailed.class, third);
    node.awaitRunning(third);
    assertThat(Files.readAllBytes(realDir.resolve(CACHE_FILE))).isEqualTo(cachedFirst);

    // A restart while the disk is still full and the control plane away comes back on what the
    // cache holds, as CacheWriteFailed warned.
    node.client().close();
    cp.stop();
    Node restarted = start(fs.path(realDir));
    assertThat(restarted.client().current()).isPresent();
    assertThat(restarted.client().current().get().hash()).isEqualTo(first);
    assertThat(restarted.client().current().get().source()).isEqualTo(SnapshotSource.CACHE);

    // Space returns: the control plane's latest is written as soon as it arrives.
    fs.heal();
    cp.restart();
    restarted.awaitRunning(third);
    restarted.awaitEvent(SyncEvent.CacheWritten.class, third);
    assertThat(hashOf(Files.readAllBytes(realDir.resolve(CACHE_FILE)))).isEqualTo(third);
    assertThat(restarted.events(SyncEvent.CacheWriteFailed.class, third)).isEmpty();
    assertThat(temporaryFiles(realDir)).isEmpty();
    assertThat(fs.openChannels()).isZero();
  }

  @Test
  void nodeOnAHungDiskTakesNewConfigurationsAfterTheWriteTimeoutAndCachesTheLatestWhenItWakes()
      throws Exception {
    cp = TestControlPlane.start(pki);
    Path realDir = dir.resolve("cache");
    String first = cp.publish(config("first", 100));
    Node node = start(fs.path(realDir), b -> b.cacheWriteTimeout(Duration.ofMillis(300)));
    node.awaitRunning(first);
    byte[] cachedFirst = Files.readAllBytes(realDir.resolve(CACHE_FILE));

    fs.hangFileForces();
    String second = cp.publish(config("second", 1000));

    SyncEvent.CacheWriteFailed failed = node.awaitEvent(SyncEvent.CacheWriteFailed.class, second);
    assertThat(failed.reason()).contains("did not finish within PT0.3S");
    node.awaitRunning(second);
    String third = cp.publish(config("third", 1000)); // queued behind the hung write
    node.awaitEvent(SyncEvent.CacheWriteFailed.class, third);
    node.awaitRunning(third);
    assertThat(node.client().isServing()).isTrue();
    assertThat(Files.readAllBytes(realDir.resolve(CACHE_FILE))).isEqualTo(cachedFirst);
    assertThat(temporaryFiles(realDir)).hasSize(1); // the hung write's

    fs.heal(); // the disk wakes up

    node.awaitEvent(SyncEvent.CacheWritten.class, third);
    assertThat(hashOf(Files.readAllBytes(realDir.resolve(CACHE_FILE)))).isEqualTo(third);
    assertThat(node.events(SyncEvent.CacheWritten.class, second)).isEmpty(); // superseded
    assertThat(temporaryFiles(realDir)).isEmpty();
    assertThat(fs.openChannels()).isZero();
  }

  @Test
  void firstStartOnAFullDiskFailsLoudlyBecauseTheNodeIdentityCannotBeWritten() throws Exception {
    cp = TestControlPlane.start(pki);
    Path realDir = Files.createDirectories(dir.resolve("cache"));
    fs.spaceLeft(0);
    Node node = node(fs.path(realDir));

    assertThatThrownBy(() -> node.client().start())
        .isInstanceOf(ConfigSyncException.class)
        .hasMessageContaining("node identity")
        .hasMessageContaining(FaultyFileSystem.NO_SPACE);

    assertThat(temporaryFiles(realDir)).isEmpty();
    assertThat(realDir.resolve("node.id")).doesNotExist();
    assertThat(fs.openChannels()).isZero();
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** A client and what its listeners heard. */
  private record Node(ConfigSyncClient client, List<SyncEvent> events) {
    <T extends SyncEvent> List<T> events(Class<T> type, String hash) {
      return events.stream()
          .filter(type::isInstance)
          .map(type::cast)
          .filter(e -> hash.equals(hashOf(e)))
          .toList();
    }

    <T extends SyncEvent> T awaitEvent(Class<T> type, String hash) {
      await().until(() -> !events(type, hash).isEmpty());
      return events(type, hash).get(0);
    }

    int index(Class<? extends SyncEvent> type, String hash) {
      for (int i = 0; i < events.size(); i++) {
        if (type.isInstance(events.get(i)) && hash.equals(hashOf(events.get(i)))) {
          return i;
        }
      }
      return -1;
    }

    void awaitRunning(String hash) {
      await()
          .until(
              () -> client.current().map(ConfigSnapshot::hash), h -> h.equals(Optional.of(hash)));
    }

    private static String hashOf(SyncEvent event) {
      if (event instanceof SyncEvent.SnapshotApplied e) {
        return e.hash();
      } else if (event instanceof SyncEvent.CacheWritten e) {
        return e.hash();
      } else if (event instanceof SyncEvent.CacheWriteFailed e) {
        return e.hash();
      }
      return "";
    }
  }

  private Node node(Path cacheDir) throws IOException {
    return node(cacheDir, b -> b);
  }

  private Node node(Path cacheDir, UnaryOperator<ConfigSyncClient.Builder> extra)
      throws IOException {
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    ConfigSyncClient.Builder builder =
        ConfigSyncClient.builder()
            .controlPlane(cp.uri())
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .snapshotStore(FileSnapshotStore.open(cacheDir))
            .heartbeatInterval(Duration.ofMillis(200))
            .deadAfter(Duration.ofMillis(300))
            .reconnectDelay(Duration.ofMillis(100), Duration.ofMillis(200))
            .handshakeTimeout(Duration.ofSeconds(5))
            .onEvent(events::add);
    ConfigSyncClient client = extra.apply(builder).build();
    clients.add(client);
    return new Node(client, events);
  }

  private Node start(Path cacheDir) throws IOException {
    return start(cacheDir, b -> b);
  }

  private Node start(Path cacheDir, UnaryOperator<ConfigSyncClient.Builder> extra)
      throws IOException {
    Node node = node(cacheDir, extra);
    node.client().start();
    return node;
  }

  /** A configuration with {@code padding} bytes that do not compress. */
  static String config(String name, int padding) {
    byte[] noise = new byte[padding * 3 / 4];
    new Random(name.hashCode()).nextBytes(noise);
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\""
        + name
        + "\",\"url\":\"http://backend:8080\"}],\"plugins\":[{\"name\":\"request-termination\","
        + "\"config\":{\"message\":\""
        + Base64.getEncoder().encodeToString(noise)
        + "\"}}]}";
  }

  private static byte[] payload(String name, int padding) {
    try {
      return HybridProtocol.reconfigure(
          Json.readFrozen(config(name, padding).getBytes(UTF_8)), 1_700_000_000.0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String hashOf(byte[] gzip) throws IOException {
    JsonNode message = Json.readFrozen(Gzip.decompress(gzip, 64L * 1024 * 1024));
    String claimed = message.path("config_hash").asText();
    assertThat(ConfigHash.configHash(message.path("config_table"))).isEqualTo(claimed);
    return claimed;
  }

  static List<String> temporaryFiles(Path realDir) throws IOException {
    try (Stream<Path> files = Files.list(realDir)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList();
    }
  }
}
