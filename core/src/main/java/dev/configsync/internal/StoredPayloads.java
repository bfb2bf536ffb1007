package dev.configsync.internal;

import dev.configsync.AtRestEncryption;
import dev.configsync.DecryptionException;
import org.jspecify.annotations.Nullable;

/**
 * What every store does with {@link AtRestEncryption}, in one place so that the cache, the
 * directory backups and the S3 backups decide alike. Not API.
 *
 * <p>The rules: with encryption, an encrypted payload must decrypt, an unencrypted gzip payload is
 * accepted (so that turning encryption on keeps the cache; the store re-encrypts it), anything else
 * is refused. Without encryption, an encrypted payload is refused with a message that says so, and
 * anything else is passed through unchanged (stores never check payloads otherwise).
 */
public final class StoredPayloads {
  private StoredPayloads() {}

  /** A stored payload, opened. */
  public static final class Opened {
    private final byte[] payload;
    private final @Nullable String stale;

    Opened(byte[] payload, @Nullable String stale) {
      this.payload = payload;
      this.stale = stale;
    }

    /** The payload as it was given to the store (not copied). */
    public byte[] payload() {
      return payload;
    }

    /**
     * Why it should be written again under the current key (it is unencrypted, or encrypted with an
     * old key), or null when it need not be.
     */
    public @Nullable String stale() {
      return stale;
    }
  }

  /** {@code payload} as a store should write it: encrypted when {@code encryption} is given. */
  public static byte[] seal(@Nullable AtRestEncryption encryption, byte[] payload) {
    return encryption == null ? payload : encryption.encrypt(payload);
  }

  /**
   * Opens what a store read.
   *
   * @param source names the payload in messages (a file, an object); never its content
   * @throws DecryptionException as described in the class comment; the message names {@code source}
   *     and the key id where there is one
   */
  public static Opened open(@Nullable AtRestEncryption encryption, byte[] stored, String source)
      throws DecryptionException {
    boolean encrypted = AtRestEncryption.isEncrypted(stored);
    if (encryption == null) {
      if (encrypted) {
        String keyId = AtRestEncryption.keyIdOf(stored).orElse(null);
        throw new DecryptionException(
            DecryptionException.Reason.NO_KEY_CONFIGURED,
            keyId,
            source
                + " is encrypted"
                + (keyId == null ? "" : " with key id " + keyId)
                + " but no encryption key is configured here; configure the key it was written"
                + " with");
      }
      return new Opened(stored, null);
    }
    if (encrypted) {
      byte[] payload = encryption.decrypt(stored, source);
      String keyId = AtRestEncryption.keyIdOf(stored).orElseThrow();
      return new Opened(
          payload, keyId.equals(encryption.keyId()) ? null : "encrypted with old key id " + keyId);
    }
    if (stored.length >= 2 && stored[0] == (byte) 0x1f && stored[1] == (byte) 0x8b) {
      return new Opened(stored, "not encrypted");
    }
    throw new DecryptionException(
        DecryptionException.Reason.NOT_A_PAYLOAD,
        null,
        source
            + " ("
            + stored.length
            + " bytes) is neither an encrypted configsync payload nor gzip: it is not a"
            + " configsync copy");
  }
}
