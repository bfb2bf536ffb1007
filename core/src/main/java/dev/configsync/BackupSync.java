package dev.configsync;

import dev.configsync.internal.ReconnectingLink;
import dev.configsync.spi.BackupStore;
import dev.configsync.spi.Scheduler;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backup export (the running control plane configuration, at most once per export delay, latest
 * wins) and import (seeding a node that has nothing when its first connection attempt fails).
 * Confined to the sync loop: every method runs on it; the store is called on the backup worker
 * thread, whose outcomes are posted back to the loop.
 */
final class BackupSync {
  private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

  private final SyncLoop loop;
  private final SyncSettings.Backups s;
  private final String version;
  private final ExecutorService worker = SyncLoop.worker("configsync-backup");

  private boolean importOnFirstFailure;
  private boolean everExported;
  private long lastExportNanos;
  private Scheduler.@Nullable Cancellable exportTimer;

  BackupSync(SyncLoop loop, SyncSettings.Backups settings, String version) {
    this.loop = loop;
    this.s = settings;
    this.version = version;
  }

  /** Whether a running control plane configuration is exported at all. */
  boolean exports() {
    return s.exportTo() != null;
  }

  /** The node starts with nothing: import a backup if its first connection attempt fails. */
  void importOnFirstFailure() {
    importOnFirstFailure = s.importFrom() != null;
  }

  /** The control plane answered: it, not a backup, seeds the node. */
  void connected() {
    importOnFirstFailure = false;
  }

  /** A connection attempt failed; imports when this is the first and the node still has nothing. */
  void connectionFailed(boolean hasConfiguration) {
    if (importOnFirstFailure) {
      importOnFirstFailure = false;
      if (!hasConfiguration) {
        startImport();
      }
    }
  }

  /** Cancels a pending export (the client is closing). */
  void cancel() {
    if (exportTimer != null) {
      exportTimer.cancel();
    }
  }

  /** Stops the worker without waiting: a backup is best effort. */
  void shutdown() {
    worker.shutdownNow();
  }

  /** Exports the running configuration now, or when the export delay allows (latest wins). */
  void scheduleExport() {
    if (exportTimer != null) {
      return; // the pending export will take whatever runs when it fires
    }
    long now = loop.nanoTime();
    long wait = everExported ? lastExportNanos + s.exportDelay().toNanos() - now : 0;
    if (wait <= 0) {
      exportNow();
      return;
    }
    exportTimer =
        loop.schedule(
            Duration.ofNanos(wait),
            () -> {
              exportTimer = null;
              if (!loop.isClosed()) {
                exportNow();
              }
            });
  }

  private void exportNow() {
    BackupStore store = s.exportTo();
    ConfigSnapshot running = loop.running();
    if (store == null || running == null || running.source() != SnapshotSource.CONTROL_PLANE) {
      return;
    }
    everExported = true;
    lastExportNanos = loop.nanoTime();
    try {
      worker.execute(
          () -> {
            try {
              store.put(version, running.payload());
              loop.execute(
                  () -> {
                    if (loop.isClosed()) {
                      return; // nothing is reported after Stopped
                    }
                    log.info(
                        "configsync node {} exported configuration {} to {}",
                        loop.nodeId(),
                        running.hash(),
                        store.describe());
                    loop.emit(
                        new SyncEvent.BackupExported(loop.now(), running.hash(), store.describe()));
                  });
            } catch (IOException | RuntimeException e) {
              loop.execute(() -> failed("export", running.hash(), ReconnectingLink.describe(e)));
            }
          });
    } catch (RejectedExecutionException e) {
      log.debug("backup export skipped: closing");
    }
  }

  /** Seeds a node that has nothing, after its first connection attempt failed. */
  private void startImport() {
    BackupStore store = s.importFrom();
    if (store == null) {
      return;
    }
    log.info(
        "configsync node {} has no configuration and cannot reach the control plane; importing"
            + " the backup for version {} from {}",
        loop.nodeId(),
        version,
        store.describe());
    try {
      worker.execute(
          () -> {
            try {
              Optional<byte[]> copy = store.get(version);
              if (copy.isEmpty()) {
                loop.execute(
                    () ->
                        failed(
                            "import",
                            null,
                            "no backup for version " + version + " in " + store.describe()));
                return;
              }
              ConfigSnapshot snapshot = loop.pipeline().decodeChecked(copy.get());
              loop.execute(() -> loop.pipeline().seedFromBackup(snapshot));
            } catch (ConfigRejectedException e) {
              // The reason code (HASH_MISMATCH, LICENSE...) tells a tampered copy from a refusal.
              loop.execute(() -> failed("import", e.hash(), e.reason() + ": " + e.getMessage()));
            } catch (IOException | RuntimeException e) {
              loop.execute(() -> failed("import", null, ReconnectingLink.describe(e)));
            }
          });
    } catch (RejectedExecutionException e) {
      log.debug("backup import skipped: closing");
    }
  }

  private void failed(String operation, @Nullable String hash, String reason) {
    if (loop.isClosed()) {
      return; // nothing is reported after Stopped
    }
    log.warn("configsync node {}: backup {} failed: {}", loop.nodeId(), operation, reason);
    loop.emit(new SyncEvent.BackupFailed(loop.now(), operation, hash, reason));
  }
}
