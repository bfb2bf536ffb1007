package dev.configsync.internal;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The version form the protocol's compatibility rules read (a node's version, the control plane's,
 * a plugin's): {@code MAJOR.MINOR}, then optionally one of {@code . - +} and letters, digits and
 * {@code . - + _ ~} only, at most {@value #MAX_LENGTH} characters. No spaces, control characters or
 * escape sequences, so a version that passes can be logged and shown as it is. One definition for
 * the client's builder, the Spring properties and the control plane, so that what a node may send
 * is exactly what the control plane accepts.
 */
public final class Versions {
  /** The longest version accepted: {@value} characters. */
  public static final int MAX_LENGTH = 64;

  private static final Pattern FORM =
      Pattern.compile("(\\d{1,9})\\.(\\d{1,9})(?:[.\\-+][0-9A-Za-z.\\-+_~]*)?");

  private Versions() {}

  /** Major and minor of a version of this form, or empty when it has another form. */
  public static Optional<int[]> majorMinor(String version) {
    if (version.length() > MAX_LENGTH) {
      return Optional.empty();
    }
    Matcher m = FORM.matcher(version);
    if (!m.matches()) {
      return Optional.empty();
    }
    return Optional.of(new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))});
  }

  /** Whether {@code version} has this form. */
  public static boolean isValid(String version) {
    return majorMinor(version).isPresent();
  }
}
