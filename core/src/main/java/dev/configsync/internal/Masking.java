package dev.configsync.internal;

/** Shows secrets in logs and {@code toString()} without giving them away. Not API. */
public final class Masking {
  /** Keys shorter than this are masked entirely, so that a short key is never mostly shown. */
  static final int MIN_LENGTH_TO_SHOW_TAIL = 12;

  private Masking() {}

  /**
   * {@code ****} followed by the last 4 characters of {@code secret}, or just {@code ****} when
   * {@code secret} is shorter than 12 characters. The length of the secret is not shown.
   */
  public static String lastFour(String secret) {
    if (secret.length() < MIN_LENGTH_TO_SHOW_TAIL) {
      return "****";
    }
    return "****" + secret.substring(secret.length() - 4);
  }
}
