package dev.configsync;

import org.jspecify.annotations.Nullable;

/** The root of configsync's exceptions. */
public class ConfigSyncException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception with a message that says what went wrong and what to do. */
  public ConfigSyncException(String message) {
    super(message);
  }

  /** Creates an exception with a message and its cause. */
  public ConfigSyncException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }

  /** What went wrong. Never null. */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message == null ? getClass().getSimpleName() : message;
  }
}
