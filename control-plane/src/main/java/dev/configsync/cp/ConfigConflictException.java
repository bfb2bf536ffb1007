package dev.configsync.cp;

import java.io.IOException;

/**
 * Thrown by {@link ConfigStore#save(byte[], String, String)} when the stored configuration is no
 * longer the one the writer expected to replace: another writer (another control plane replica)
 * saved first. Nothing was saved.
 */
public final class ConfigConflictException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String currentHash;

  /**
   * A conflict.
   *
   * @param currentHash the hash of the configuration stored now
   * @param message what happened, for logs and the admin API's answer
   */
  public ConfigConflictException(String currentHash, String message) {
    super(message);
    this.currentHash = currentHash;
  }

  /** The hash of the configuration stored now (32 zeros when there is none). */
  public String currentHash() {
    return currentHash;
  }
}
