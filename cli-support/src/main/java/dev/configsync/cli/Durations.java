package dev.configsync.cli;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Parses the duration flags of both command lines: a whole number with a unit ({@code 500ms},
 * {@code 30s}, {@code 5m}, {@code 1h}) or ISO-8601 ({@code PT30S}). Stateless; safe from any
 * thread.
 */
public final class Durations {
  private static final Pattern SIMPLE = Pattern.compile("(\\d{1,18})(ms|s|m|h)");

  private Durations() {}

  /**
   * Parses {@code text}.
   *
   * @param text the flag's value
   * @return the duration
   * @throws IllegalArgumentException with a message saying what is accepted
   */
  public static Duration parse(String text) {
    String t = text.trim();
    if (t.startsWith("P") || t.startsWith("p") || t.startsWith("-P") || t.startsWith("-p")) {
      try {
        return Duration.parse(t.toUpperCase(Locale.ROOT));
      } catch (DateTimeParseException e) {
        throw invalid(text);
      }
    }
    Matcher m = SIMPLE.matcher(t);
    if (!m.matches()) {
      throw invalid(text);
    }
    long amount = Long.parseLong(m.group(1));
    try {
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(amount);
        case "s" -> Duration.ofSeconds(amount);
        case "m" -> Duration.ofMinutes(amount);
        default -> Duration.ofHours(amount);
      };
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("'" + text + "' is too long a duration", e);
    }
  }

  /**
   * Formats a duration the way the flags take it, for messages: {@code 500ms}, {@code 30s}.
   *
   * @param d the duration
   * @return its shortest exact form with one unit
   */
  public static String format(Duration d) {
    if (d.toMillisPart() != 0 || d.toNanosPart() != 0 || d.isZero()) {
      return d.toMillis() + "ms";
    }
    if (d.toSeconds() % 3600 == 0) {
      return d.toHours() + "h";
    }
    if (d.toSeconds() % 60 == 0) {
      return d.toMinutes() + "m";
    }
    return d.toSeconds() + "s";
  }

  private static IllegalArgumentException invalid(String text) {
    return new IllegalArgumentException(
        "'"
            + text
            + "' is not a duration: use a whole number with ms, s, m or h (500ms, 30s, 5m, 1h),"
            + " or ISO-8601 (PT30S)");
  }

  /** The picocli converter for duration options; picocli names the option in its message. */
  public static final class Converter implements CommandLine.ITypeConverter<Duration> {
    /** For picocli. */
    public Converter() {}

    @Override
    public Duration convert(String value) {
      try {
        return parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
