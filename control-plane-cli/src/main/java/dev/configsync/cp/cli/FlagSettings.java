package dev.configsync.cp.cli;

import dev.configsync.cli.BadArgumentException;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Hands flag values to a builder that checks them: a value the builder refuses becomes a {@link
 * BadArgumentException} that names the flag. Stateless.
 */
final class FlagSettings {
  private FlagSettings() {}

  /** Applies one builder setting, naming {@code flag} when the builder refuses the value. */
  static void setting(String flag, Runnable apply) throws BadArgumentException {
    try {
      apply.run();
    } catch (IllegalArgumentException e) {
      throw new BadArgumentException(flag + ": " + e.getMessage(), e);
    }
  }

  /** As {@link #setting}, for a flag that was given; one left out keeps the builder's default. */
  static <T> void settingIfGiven(String flag, @Nullable T value, Consumer<T> apply)
      throws BadArgumentException {
    if (value != null) {
      setting(flag, () -> apply.accept(value));
    }
  }
}
