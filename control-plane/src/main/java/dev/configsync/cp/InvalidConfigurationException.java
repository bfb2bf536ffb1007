package dev.configsync.cp;

import dev.configsync.ConfigSyncException;

/**
 * A configuration the control plane refuses to publish: not valid JSON or YAML, not an object,
 * larger than data planes accept, or refused by the configured validator. Nothing was stored or
 * sent. The message says what is wrong.
 */
public final class InvalidConfigurationException extends ConfigSyncException {
  private static final long serialVersionUID = 1L;

  private final boolean tooLarge;

  /** A refusal whose message says what is wrong and, where it helps, what to change. */
  public InvalidConfigurationException(String message) {
    super(message);
    this.tooLarge = false;
  }

  private InvalidConfigurationException(String message, boolean tooLarge) {
    super(message);
    this.tooLarge = tooLarge;
  }

  /** A configuration larger than data planes accept. */
  static InvalidConfigurationException tooLarge(String message) {
    return new InvalidConfigurationException(message, true);
  }

  /** Whether the configuration was refused for its size (the admin API answers 413). */
  public boolean isTooLarge() {
    return tooLarge;
  }

  /** As {@link #InvalidConfigurationException(String)}, keeping the underlying cause. */
  public InvalidConfigurationException(String message, Throwable cause) {
    super(message, cause);
    this.tooLarge = false;
  }
}
