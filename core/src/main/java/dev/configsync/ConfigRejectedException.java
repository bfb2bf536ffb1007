package dev.configsync;

import org.jspecify.annotations.Nullable;

/**
 * A configuration payload was refused. The node keeps the configuration it runs; nothing was
 * written to disk or passed to listeners.
 */
public final class ConfigRejectedException extends ConfigSyncException {
  private static final long serialVersionUID = 1L;

  /** Why a payload was refused. */
  public enum Reason {
    /** The compressed payload is larger than the configured maximum. */
    PAYLOAD_TOO_LARGE,
    /** The payload inflates to more than the configured maximum (a decompression bomb). */
    INFLATED_TOO_LARGE,
    /** The payload is not valid gzip, or is truncated. */
    BAD_GZIP,
    /** The payload is not valid JSON, or breaks a parser limit (nesting, string length). */
    BAD_JSON,
    /** Valid JSON, but not a {@code reconfigure} message of the expected shape. */
    BAD_MESSAGE,
    /**
     * The {@code config_hash} in the message does not match the configuration's content (for a
     * {@code reconfigure_delta}: the change set, applied, gives other hashes than it announced).
     */
    HASH_MISMATCH,
    /**
     * A {@code reconfigure_delta} (configsync's incremental sync) does not apply to the running
     * configuration: its base is another configuration, or an entity it changes is not there. The
     * node keeps what it runs and asks the control plane for the whole configuration.
     */
    BASE_MISMATCH,
    /**
     * Licensing is enabled and the configuration's license is missing, malformed or not signed by
     * the configured key.
     */
    LICENSE,
    /** A configuration file given by hand (fallback or manual load) could not be used. */
    BAD_FILE,
    /** The embedding application's {@link dev.configsync.spi.ConfigValidator} refused it. */
    VALIDATOR
  }

  private final Reason reason;
  private final @Nullable String hash;

  /** Creates a rejection; {@code hash} is the hash the payload claimed, if it got that far. */
  public ConfigRejectedException(
      Reason reason, @Nullable String hash, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.reason = reason;
    this.hash = hash;
  }

  /** What was wrong, in words an operator can act on. Never null. */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message == null ? reason.name() : message;
  }

  /** Why the payload was refused. */
  public Reason reason() {
    return reason;
  }

  /** The hash the payload claimed, or null when it was refused before one could be read. */
  public @Nullable String hash() {
    return hash;
  }
}
