package dev.configsync.spring.boot;

import java.nio.file.Path;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Backups in a directory (a shared volume); encrypted with the cache's key when it has one.
 *
 * <p>Bound under {@code configsync.backup}; part of {@link ConfigSyncProperties}.
 */
public class BackupProperties {
  /** Where to copy the running configuration (only one from the control plane). */
  private @Nullable Path exportDirectory;

  /**
   * Where to seed from when the node starts with no configuration and its first connection fails.
   */
  private @Nullable Path importDirectory;

  /** The least time between two backup exports. */
  private Duration exportDelay = Duration.ofSeconds(60);

  public @Nullable Path getExportDirectory() {
    return exportDirectory;
  }

  public void setExportDirectory(@Nullable Path exportDirectory) {
    this.exportDirectory = exportDirectory;
  }

  public @Nullable Path getImportDirectory() {
    return importDirectory;
  }

  public void setImportDirectory(@Nullable Path importDirectory) {
    this.importDirectory = importDirectory;
  }

  public Duration getExportDelay() {
    return exportDelay;
  }

  public void setExportDelay(Duration exportDelay) {
    this.exportDelay = exportDelay;
  }
}
