package dev.configsync.cp;

import static dev.configsync.cp.ServerSettings.requireArgument;
import static dev.configsync.cp.ServerSettings.requirePositive;

import dev.configsync.internal.Versions;
import java.time.Duration;
import java.util.Objects;

/**
 * What each {@link ControlPlaneServer.Builder} setting accepts. Each method checks one value and
 * returns it unchanged, or throws {@link IllegalArgumentException} (or {@link NullPointerException}
 * for a missing value) with a message that names the setting, so that a setter is one line: {@code
 * s.maxNodeLabels = between("maxNodeLabels", count, 0, 10_000)}. The ranges are documented to users
 * on the builder methods; keep the two in step.
 *
 * <p>Stateless; called on the thread that configures the builder.
 */
final class SettingChecks {
  private SettingChecks() {}

  /** {@code d} when it is above zero. */
  static Duration positive(String name, Duration d) {
    requirePositive(name, d);
    return d;
  }

  /** {@code d} when it is above zero and at most {@code max} ({@code maxText} in the message). */
  static Duration positiveAtMost(String name, Duration d, Duration max, String maxText) {
    requirePositive(name, d);
    requireArgument(d.compareTo(max) <= 0, name + " must be at most " + maxText + ": " + d);
    return d;
  }

  /** {@code value} when it is at least 0. */
  static int notNegative(String name, int value) {
    requireArgument(value >= 0, name + " must not be negative: " + value);
    return value;
  }

  /** {@code value} when it is at least 0. */
  static long notNegative(String name, long value) {
    requireArgument(value >= 0, name + " must not be negative: " + value);
    return value;
  }

  /** {@code value} when it is at least {@code min}. */
  static int atLeast(String name, int value, int min) {
    requireArgument(value >= min, name + " must be at least " + min + ": " + value);
    return value;
  }

  /** {@code bytes} when it is at least {@code min} bytes. */
  static int atLeastBytes(String name, int bytes, int min) {
    requireArgument(bytes >= min, name + " must be at least " + min + " bytes: " + bytes);
    return bytes;
  }

  /** {@code value} when it is {@code min} to {@code max}, both included. */
  static int between(String name, int value, int min, int max) {
    requireArgument(
        value >= min && value <= max, name + " must be " + min + " to " + max + ": " + value);
    return value;
  }

  /** The admin token: at least 16 characters, no whitespace. */
  static String adminToken(String token) {
    Objects.requireNonNull(token, "adminToken");
    requireArgument(
        token.length() >= 16 && token.chars().noneMatch(Character::isWhitespace),
        "adminToken must be at least 16 characters without whitespace");
    return token;
  }

  /** The largest configuration frame published: 1024 bytes to what a byte array can hold. */
  static long maxPayloadBytes(long bytes) {
    requireArgument(
        bytes >= 1024 && bytes <= Integer.MAX_VALUE - 8,
        "maxPayloadBytes must be between 1024 and " + (Integer.MAX_VALUE - 8) + ": " + bytes);
    return bytes;
  }

  /** The registry's memory budget: at least 1 MiB. */
  static long maxRegistryBytes(long bytes) {
    requireArgument(
        bytes >= 1 << 20, "maxRegistryBytes must be at least 1 MiB (1048576): " + bytes);
    return bytes;
  }

  /** The largest change frame as a fraction of the whole: above 0, at most 1. */
  static double maxDeltaFraction(double fraction) {
    requireArgument(
        fraction > 0 && fraction <= 1,
        "maxDeltaFraction must be above 0 and at most 1: " + fraction);
    return fraction;
  }

  /** The control plane's version: MAJOR.MINOR[.PATCH]. */
  static String version(String version) {
    Objects.requireNonNull(version, "version");
    requireArgument(
        Versions.isValid(version), "version must look like MAJOR.MINOR[.PATCH]: " + version);
    return version;
  }

  /** The version of capability {@code name} (which must not be blank): MAJOR.MINOR[.PATCH]. */
  static String capabilityVersion(String name, String version) {
    requireArgument(name != null && !name.isBlank(), "capability name must not be blank");
    Objects.requireNonNull(version, "capability version");
    requireArgument(
        Versions.isValid(version),
        "capability " + name + " version must look like MAJOR.MINOR[.PATCH]: " + version);
    return version;
  }

  /** How often the TLS files are checked: zero (never) or more. */
  static Duration tlsReloadInterval(Duration interval) {
    Objects.requireNonNull(interval, "tlsReloadInterval");
    requireArgument(!interval.isNegative(), "tlsReloadInterval must not be negative: " + interval);
    return interval;
  }
}
