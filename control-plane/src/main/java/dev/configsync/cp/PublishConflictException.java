package dev.configsync.cp;

import dev.configsync.ConfigSyncException;

/**
 * A publish refused because the configuration it meant to replace is no longer the one in force:
 * another publish (on this control plane, or on another replica sharing its store) came first, or
 * the caller's expected hash ({@code If-Match} on the admin API) is not the current one. Nothing
 * was stored or sent. Read the current configuration, merge, and publish again. The admin API
 * answers 409.
 */
public final class PublishConflictException extends ConfigSyncException {
  private static final long serialVersionUID = 1L;

  private final String currentHash;

  PublishConflictException(String currentHash, String message, Throwable cause) {
    super(message, cause);
    this.currentHash = currentHash;
  }

  PublishConflictException(String currentHash, String message) {
    super(message);
    this.currentHash = currentHash;
  }

  /** The hash of the configuration in force now (32 zeros when there is none). */
  public String currentHash() {
    return currentHash;
  }
}
