package dev.configsync;

import org.jspecify.annotations.Nullable;

/**
 * The configuration carries no usable license. The message says which entry was wrong, how, and
 * what to do about it; it never contains the license key.
 */
public final class LicenseException extends ConfigSyncException {
  private static final long serialVersionUID = 1L;

  /** Why no license could be accepted. */
  public enum Reason {
    /**
     * {@code config_table.licenses} is absent, {@code null} or empty: the control plane publishes
     * no license. Upload one to the control plane, or turn licensing off on the node.
     */
    MISSING,
    /**
     * A license entry or document does not have the expected shape (not an object, no payload,
     * invalid JSON, signature not base64 of 64 bytes, a required field missing, a date not {@code
     * YYYY-MM-DD}, ...). Re-issue the license with a configsync license signer.
     */
    MALFORMED,
    /**
     * The license document has a {@code version} other than 1, the only one configsync knows. Use a
     * license issued for this version, or a configsync release that knows the newer version.
     */
    UNSUPPORTED_VERSION,
    /**
     * The signature does not verify against the node's license public key: the license was changed
     * after signing, or signed with another key. Check that the node is configured with the public
     * key that matches the signing key, or re-issue the license.
     */
    BAD_SIGNATURE
  }

  private final Reason reason;

  /** Creates an exception; {@code message} says what was wrong and what to do. */
  public LicenseException(Reason reason, String message) {
    this(reason, message, null);
  }

  /** Creates an exception with its cause. */
  public LicenseException(Reason reason, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  /** What was wrong, in words an operator can act on. Never null. */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message == null ? reason.name() : message;
  }

  /** Why no license could be accepted. */
  public Reason reason() {
    return reason;
  }
}
