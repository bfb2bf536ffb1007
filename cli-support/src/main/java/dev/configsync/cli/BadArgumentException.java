package dev.configsync.cli;

import org.jspecify.annotations.Nullable;

/**
 * A flag is wrong; the message says which and why, and the command exits with its usage status (2).
 * Restarting with the same arguments does not help.
 */
public final class BadArgumentException extends Exception {
  private static final long serialVersionUID = 1L;

  /**
   * A refusal with no underlying exception.
   *
   * @param message names the flag and says what to change
   */
  public BadArgumentException(String message) {
    super(message);
  }

  /**
   * A refusal caused by {@code cause}.
   *
   * @param message names the flag and says what to change
   * @param cause what found the value wrong
   */
  public BadArgumentException(@Nullable String message, Throwable cause) {
    super(message, cause);
  }
}
