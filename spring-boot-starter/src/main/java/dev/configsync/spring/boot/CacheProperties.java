package dev.configsync.spring.boot;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.util.unit.DataSize;

/**
 * The on-disk cache.
 *
 * <p>Bound under {@code configsync.cache}; part of {@link ConfigSyncProperties}.
 */
public class CacheProperties {
  /**
   * Where config.json.gz and node.id are kept. Without it the node forgets its configuration when
   * it stops and gets a new identity on every start.
   */
  private @Nullable Path directory;

  /** The largest cache file read back. */
  private DataSize maxSize = DataSize.ofMegabytes(64);

  /** A file holding the 32-byte key that encrypts the cache at rest (AES-256-GCM). */
  private @Nullable Path encryptionKeyFile;

  /**
   * The name of an environment variable holding the encryption key (base64 or hex), instead of a
   * file.
   */
  private @Nullable String encryptionKeyEnv;

  /** Key files of earlier keys, so that a cache written before a key rotation can be read. */
  private List<Path> oldEncryptionKeyFiles = new ArrayList<>();

  /**
   * Changes (reconfigure_delta) appended to config.journal after which the whole configuration is
   * written again; 0 writes every change whole.
   */
  private int journalRecords = 64;

  /**
   * Size of config.journal, as a fraction of the cached configuration (at least 64 KiB), after
   * which the whole configuration is written again.
   */
  private double journalFraction = 0.25;

  public @Nullable Path getDirectory() {
    return directory;
  }

  public void setDirectory(@Nullable Path directory) {
    this.directory = directory;
  }

  public DataSize getMaxSize() {
    return maxSize;
  }

  public void setMaxSize(DataSize maxSize) {
    this.maxSize = maxSize;
  }

  public @Nullable Path getEncryptionKeyFile() {
    return encryptionKeyFile;
  }

  public void setEncryptionKeyFile(@Nullable Path encryptionKeyFile) {
    this.encryptionKeyFile = encryptionKeyFile;
  }

  public @Nullable String getEncryptionKeyEnv() {
    return encryptionKeyEnv;
  }

  public void setEncryptionKeyEnv(@Nullable String encryptionKeyEnv) {
    this.encryptionKeyEnv = encryptionKeyEnv;
  }

  public List<Path> getOldEncryptionKeyFiles() {
    return oldEncryptionKeyFiles;
  }

  public void setOldEncryptionKeyFiles(List<Path> oldEncryptionKeyFiles) {
    this.oldEncryptionKeyFiles = oldEncryptionKeyFiles;
  }

  public int getJournalRecords() {
    return journalRecords;
  }

  public void setJournalRecords(int journalRecords) {
    this.journalRecords = journalRecords;
  }

  public double getJournalFraction() {
    return journalFraction;
  }

  public void setJournalFraction(double journalFraction) {
    this.journalFraction = journalFraction;
  }
}
