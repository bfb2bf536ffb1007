package dev.configsync.internal;

import org.jspecify.annotations.Nullable;

/**
 * The text form of a configuration hash: exactly 32 lowercase hexadecimal characters. Not API.
 *
 * <p>A leaf: it imports nothing of configsync, so that the public {@link
 * dev.configsync.ConfigHashes} record can check its components without depending on the hashing
 * algorithm ({@link ConfigHash}), which depends on that record.
 */
public final class HashText {
  private HashText() {}

  /**
   * Tells whether {@code s} has the shape of a hash (exactly 32 lowercase hexadecimal characters),
   * for validating hashes received from elsewhere.
   */
  public static boolean isValid(@Nullable String s) {
    if (s == null || s.length() != 32) {
      return false;
    }
    for (int i = 0; i < 32; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }
}
