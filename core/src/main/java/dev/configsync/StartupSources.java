package dev.configsync;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.internal.delta.DeltaFrame;
import dev.configsync.internal.delta.DeltaRejectedException;
import dev.configsync.spi.SnapshotStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a starting node finds its first configuration: the cache (a damaged one is moved aside)
 * with its journal replayed on top, else the fallback file. Runs on the thread that calls {@code
 * start()}, before the loop starts connecting; it touches no loop state (events go through the
 * listener dispatcher, in order).
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
    Replayed replayed = replay(store, snapshot);
    snapshot = replayed.snapshot();
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
        "configsync loaded cached configuration {} from {}{}",
        snapshot.hash(),
        store.describe(),
        replayed.records() == 0
            ? ""
            : " (" + replayed.records() + " journaled change(s) replayed)");
    loop.pipeline()
        .cacheFound(
            replayed.complete() ? snapshot.hash() : null,
            bytes.get().length,
            replayed.records(),
            replayed.bytes());
    return Optional.of(snapshot);
  }

  /**
   * The cache's journal replayed on {@code cached}.
   *
   * @param complete whether the store holds exactly {@code snapshot} (every change of the journal
   *     replayed, or none there); when not, the next configuration is written whole, which also
   *     empties the journal
   */
  private record Replayed(ConfigSnapshot snapshot, int records, long bytes, boolean complete) {}

  /**
   * Applies the store's journal to {@code cached}, in order: each change's base must be the
   * configuration reached so far (the first's, the cache's) and its result must have the hashes it
   * announces. A journal whose first change does not apply to the cache is ignored whole; a change
   * that does not apply ends the replay at the last good configuration. Never throws for what the
   * journal holds.
   */
  private Replayed replay(SnapshotStore store, ConfigSnapshot cached) {
    List<byte[]> changes;
    try {
      changes = store.journal();
    } catch (IOException e) {
      log.warn(
          "configsync cannot read the cache journal in {} ({}); starting on the cached"
              + " configuration {} without it",
          store.describe(),
          e.getMessage(),
          cached.hash());
      return new Replayed(cached, 0, 0, false);
    }
    ConfigSnapshot at = cached;
    long bytes = 0;
    int applied = 0;
    for (byte[] change : changes) {
      String problem;
      try {
        JsonNode message = loop.pipeline().decoder().read(change);
        DeltaFrame frame = DeltaFrame.parse(message);
        if (frame.baseHash().equals(at.hash())) {
          at = ApplyPipeline.applyChange(at, frame, change, SnapshotSource.CACHE, loop.now());
          applied++;
          bytes += change.length;
          continue;
        }
        problem =
            "it applies to configuration " + frame.baseHash() + ", not to " + at.hash() + " (";
        problem += applied == 0 ? "the cached one): the journal is not this cache's" : "reached)";
      } catch (ConfigRejectedException | DeltaRejectedException | IllegalArgumentException e) {
        problem = e.getMessage();
      }
      log.warn(
          "configsync stopped replaying the cache journal in {} at change {} of {}: {}; starting on"
              + " configuration {}",
          store.describe(),
          applied + 1,
          changes.size(),
          problem,
          at.hash());
      return new Replayed(applied == 0 ? at : at.asFirst(), applied, bytes, false);
    }
    return new Replayed(applied == 0 ? at : at.asFirst(), applied, bytes, true);
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
