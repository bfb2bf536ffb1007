package dev.configsync.internal;

import java.time.Duration;
import java.util.Objects;

/**
 * The argument checks that configsync's builders run when a setting is set, so that a wrong value
 * fails at once with a message naming the setting ({@code IllegalArgumentException}).
 */
public final class BuilderChecks {
  private BuilderChecks() {}

  /**
   * Fails unless {@code d} is above zero.
   *
   * @throws NullPointerException naming {@code name} when {@code d} is null
   * @throws IllegalArgumentException "{@code name} must be positive, got: {@code d}"
   */
  public static void requirePositive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    requireArgument(!d.isNegative() && !d.isZero(), name + " must be positive, got: " + d);
  }

  /**
   * Fails with {@code message} unless {@code ok}.
   *
   * @throws IllegalArgumentException with {@code message}
   */
  public static void requireArgument(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
