package dev.configsync.cli;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Sizes in bytes: {@code 16777216}, {@code 512KiB}, {@code 16MiB}, {@code 1GiB}. Stateless; safe
 * from any thread.
 */
public final class ByteSize {
  private static final Pattern FORM = Pattern.compile("(\\d{1,12})(KiB|MiB|GiB)?");

  private ByteSize() {}

  /**
   * Parses {@code text}.
   *
   * @param text the flag's value
   * @return the number of bytes
   * @throws IllegalArgumentException with a message saying what is accepted
   */
  public static long parse(String text) {
    Matcher m = FORM.matcher(text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a size: use a whole number of bytes, optionally with KiB, MiB or GiB"
              + " (16777216, 16MiB)");
    }
    long amount = Long.parseLong(m.group(1));
    String unit = m.group(2);
    long factor =
        unit == null ? 1 : unit.equals("KiB") ? 1L << 10 : unit.equals("MiB") ? 1L << 20 : 1L << 30;
    try {
      return Math.multiplyExact(amount, factor);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("'" + text + "' is too large", e);
    }
  }

  /**
   * Formats a size the way the flags take it: the largest unit that divides it exactly.
   *
   * @param bytes a size, at least 0
   * @return {@code 16MiB}, {@code 512KiB}, {@code 1000}
   */
  public static String format(long bytes) {
    if (bytes != 0 && bytes % (1L << 30) == 0) {
      return (bytes >> 30) + "GiB";
    }
    if (bytes != 0 && bytes % (1L << 20) == 0) {
      return (bytes >> 20) + "MiB";
    }
    if (bytes != 0 && bytes % (1L << 10) == 0) {
      return (bytes >> 10) + "KiB";
    }
    return Long.toString(bytes);
  }

  /** The picocli converter; picocli names the option in its message. */
  public static final class Converter implements CommandLine.ITypeConverter<Long> {
    /** For picocli. */
    public Converter() {}

    @Override
    public Long convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
