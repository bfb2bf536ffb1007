package dev.configsync;

import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.spi.SnapshotStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a starting node finds its first configuration: the cache (a damaged one is moved aside),
 * else the fallback file. Runs on the thread that calls {@code start()}, before the loop starts
 * connecting; it touches no loop state (events go through the listener dispatcher, in order).
 */
final class StartupSources {
  private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

  private final SyncLoop loop;
  private final @Nullable SnapshotStore store;

  StartupSources(SyncLoop loop, @Nullable SnapshotStore store) {
    this.loop = loop;
    this.store = store;
  }

  Optional<ConfigSnapshot> loadCache() {
    SnapshotStore store = this.store;
    if (store == null) {
      return Optional.empty();
    }
    Optional<byte[]> bytes;
    try {
      bytes = store.read();
    } catch (IOException e) {
      moveAside(store, "cannot be read: " + e.getMessage());
      return Optional.empty();
    }
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    ConfigSnapshot snapshot;
    try {
      snapshot = loop.pipeline().decoder().decode(bytes.get(), SnapshotSource.CACHE, loop.now());
    } catch (ConfigRejectedException e) {
      moveAside(store, e.getMessage());
      return Optional.empty();
    }
    try {
      snapshot = loop.pipeline().check(snapshot);
    } catch (ConfigRejectedException e) {
      log.warn(
          "configsync cached configuration {} refused by the validator: {}",
          e.hash(),
          e.getMessage());
      loop.emit(
          new SyncEvent.SnapshotRejected(
              loop.now(), e.hash(), SnapshotSource.CACHE, e.reason(), e.getMessage()));
      return Optional.empty();
    }
    log.info(
        "configsync loaded cached configuration {} from {}", snapshot.hash(), store.describe());
    return Optional.of(snapshot);
  }

  Optional<ConfigSnapshot> loadFallback(Path file) {
    try {
      ConfigSnapshot snapshot =
          loop.pipeline()
              .check(loop.pipeline().files().read(file, SnapshotSource.FALLBACK, loop.now()));
      log.info("configsync loaded fallback configuration {} from {}", snapshot.hash(), file);
      return Optional.of(snapshot);
    } catch (ConfigFileException e) {
      log.error("configsync fallback configuration unusable: {}", e.getMessage());
      ConfigRejectedException rejection = fileRejection(e);
      loop.emit(
          new SyncEvent.SnapshotRejected(
              loop.now(),
              rejection.hash(),
              SnapshotSource.FALLBACK,
              rejection.reason(),
              rejection.getMessage()));
    } catch (ConfigRejectedException e) {
      log.error("configsync fallback configuration {} refused: {}", file, e.getMessage());
      loop.emit(
          new SyncEvent.SnapshotRejected(
              loop.now(), e.hash(), SnapshotSource.FALLBACK, e.reason(), e.getMessage()));
    }
    return Optional.empty();
  }

  /**
   * A configuration file refused for what it holds, as a rejection: reason {@code BAD_FILE}, the
   * message naming the file (and line and column), the hash if the file got as far as claiming one.
   */
  static ConfigRejectedException fileRejection(ConfigFileException e) {
    @Nullable String hash = e.getCause() instanceof ConfigRejectedException r ? r.hash() : null;
    return new ConfigRejectedException(Reason.BAD_FILE, hash, e.getMessage(), e);
  }

  private void moveAside(SnapshotStore store, String reason) {
    String movedTo;
    try {
      movedTo = store.moveAside(reason);
    } catch (IOException e) {
      movedTo = "(could not be moved: " + e.getMessage() + ")";
    }
    log.warn(
        "configsync cached configuration in {} is damaged ({}); moved to {}; going on without it",
        store.describe(),
        reason,
        movedTo);
    loop.emit(new SyncEvent.CacheDamaged(loop.now(), reason, movedTo));
  }
}
