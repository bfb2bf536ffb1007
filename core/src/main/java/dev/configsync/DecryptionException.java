package dev.configsync;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * A stored payload (the cache's {@code config.json.gz}, a backup copy) could not be opened: it is
 * encrypted with a key this node does not have, it was altered or cut short, or it is not a
 * configsync payload at all. The message names the file or object, the key id where there is one,
 * and what to do; it never contains the payload or a key.
 *
 * <p>It is an {@link IOException} (not a {@link ConfigSyncException}) because it is thrown through
 * {@link dev.configsync.spi.SnapshotStore#read} and {@link dev.configsync.spi.BackupStore#get}: the
 * client then treats the cache as damaged (moved aside, {@code CacheDamaged}, start-up goes on) and
 * a backup as unusable ({@code BackupFailed}), as for any other unreadable copy.
 */
public final class DecryptionException extends IOException {
  private static final long serialVersionUID = 1L;

  /** Why the payload could not be opened. */
  public enum Reason {
    /** The payload is encrypted but no encryption key is configured for the store. */
    NO_KEY_CONFIGURED,
    /** The payload is encrypted with a key whose id is none of the configured keys'. */
    UNKNOWN_KEY,
    /**
     * The authentication tag does not match: the payload or its header was altered or damaged after
     * it was written (or written with another key of the same id, which is improbable).
     */
    AUTHENTICATION_FAILED,
    /** The payload is shorter than an encryption header and tag. */
    TRUNCATED,
    /** The payload has an encryption format version this configsync does not read. */
    UNSUPPORTED_VERSION,
    /** Encryption is configured, and the payload is neither encrypted nor gzip. */
    NOT_A_PAYLOAD
  }

  private final Reason reason;
  private final @Nullable String keyId;

  /**
   * Creates the exception.
   *
   * @param message what was wrong and what to do; must not contain payload content or a key
   * @param keyId the key id recorded in the payload's header, or null when it has none
   */
  public DecryptionException(Reason reason, @Nullable String keyId, String message) {
    this(reason, keyId, message, null);
  }

  /** Same as {@link #DecryptionException(Reason, String, String)}, with a cause. */
  public DecryptionException(
      Reason reason, @Nullable String keyId, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.reason = reason;
    this.keyId = keyId;
  }

  /** Why the payload could not be opened. */
  public Reason reason() {
    return reason;
  }

  /** The key id recorded in the payload's header, or null when it has none (or none readable). */
  public @Nullable String keyId() {
    return keyId;
  }
}
