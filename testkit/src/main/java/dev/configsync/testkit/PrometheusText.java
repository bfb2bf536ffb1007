package dev.configsync.testkit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests that scrape a
 * {@code /metrics} endpoint: every line must be a comment, a {@code # HELP}, a {@code # TYPE} or a
 * well-formed sample, and every sample must belong to a family whose {@code # TYPE} came before it.
 * Anything else throws {@link IllegalArgumentException} naming the line. Immutable once parsed.
 */
public final class PrometheusText {
  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
  private static final List<String> SUFFIXES =
      List.of("", "_total", "_count", "_sum", "_bucket", "_created", "_max");

  /** One sample line: its metric name, labels (in the order written) and value. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final Map<String, String> types = new LinkedHashMap<>();
  private final List<Sample> samples = new ArrayList<>();

  private PrometheusText() {}

  /**
   * Parses {@code text}.
   *
   * @throws IllegalArgumentException at the first line that breaks the format
   */
  public static PrometheusText parse(String text) {
    PrometheusText page = new PrometheusText();
    int number = 0;
    for (String line : text.split("\n", -1)) {
      number++;
      try {
        page.line(line);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "line " + number + " (" + line + "): " + e.getMessage(), e);
      }
    }
    if (!text.isEmpty() && !text.endsWith("\n")) {
      throw new IllegalArgumentException("the page does not end with a line feed");
    }
    return page;
  }

  private void line(String line) {
    if (line.isEmpty()) {
      return;
    }
    if (line.startsWith("#")) {
      String[] parts = line.split(" ", 4);
      if (parts.length >= 3 && parts[1].equals("TYPE")) {
        name(parts[2]);
        String type = parts.length == 4 ? parts[3] : "";
        if (!List.of("counter", "gauge", "summary", "histogram", "untyped").contains(type)) {
          throw new IllegalArgumentException("unknown type '" + type + "'");
        }
        if (types.put(parts[2], type) != null) {
          throw new IllegalArgumentException("a second TYPE for " + parts[2]);
        }
      } else if (parts.length >= 3 && parts[1].equals("HELP")) {
        name(parts[2]);
      }
      return;
    }
    int i = 0;
    while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
      i++;
    }
    String name = name(line.substring(0, i));
    Map<String, String> labels = new LinkedHashMap<>();
    if (i < line.length() && line.charAt(i) == '{') {
      i = labels(line, i + 1, labels);
    }
    if (i >= line.length() || line.charAt(i) != ' ') {
      throw new IllegalArgumentException("no value after the name and labels");
    }
    String[] rest = line.substring(i + 1).trim().split(" ", -1);
    if (rest.length > 2) {
      throw new IllegalArgumentException("more than a value and a timestamp");
    }
    double value = value(rest[0]);
    if (family(name).isEmpty()) {
      throw new IllegalArgumentException("sample " + name + " has no # TYPE before it");
    }
    samples.add(new Sample(name, Map.copyOf(labels), value));
  }

  private static int labels(String line, int from, Map<String, String> labels) {
    int i = from;
    while (true) {
      if (i < line.length() && line.charAt(i) == '}') {
        return i + 1;
      }
      int eq = line.indexOf('=', i);
      if (eq < 0) {
        throw new IllegalArgumentException("a label without '='");
      }
      String label = line.substring(i, eq);
      if (!LABEL_NAME.matcher(label).matches()) {
        throw new IllegalArgumentException("bad label name '" + label + "'");
      }
      if (eq + 1 >= line.length() || line.charAt(eq + 1) != '"') {
        throw new IllegalArgumentException("label " + label + "'s value is not quoted");
      }
      StringBuilder value = new StringBuilder();
      int j = eq + 2;
      while (true) {
        if (j >= line.length()) {
          throw new IllegalArgumentException("label " + label + "'s value is not closed");
        }
        char c = line.charAt(j);
        if (c == '\\') {
          if (j + 1 >= line.length()) {
            throw new IllegalArgumentException("a lone backslash");
          }
          char e = line.charAt(j + 1);
          switch (e) {
            case '\\' -> value.append('\\');
            case '"' -> value.append('"');
            case 'n' -> value.append('\n');
            default -> throw new IllegalArgumentException("bad escape \\" + e);
          }
          j += 2;
        } else if (c == '"') {
          j++;
          break;
        } else {
          value.append(c);
          j++;
        }
      }
      if (labels.put(label, value.toString()) != null) {
        throw new IllegalArgumentException("label " + label + " twice");
      }
      if (j < line.length() && line.charAt(j) == ',') {
        j++;
      }
      i = j;
    }
  }

  private static String name(String name) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("'" + name + "' is not a metric name");
    }
    return name;
  }

  private static double value(String text) {
    return switch (text) {
      case "NaN" -> Double.NaN;
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      default -> {
        Matcher m = Pattern.compile("[-+]?[0-9.]+([eE][-+]?[0-9]+)?").matcher(text);
        if (!m.matches()) {
          throw new IllegalArgumentException("'" + text + "' is not a number");
        }
        yield Double.parseDouble(text);
      }
    };
  }

  /** The family (name given in {@code # TYPE}) that sample name {@code name} belongs to. */
  private Optional<String> family(String name) {
    for (String suffix : SUFFIXES) {
      if (name.endsWith(suffix)) {
        String base = name.substring(0, name.length() - suffix.length());
        if (types.containsKey(name)) {
          return Optional.of(name);
        }
        if (types.containsKey(base)) {
          return Optional.of(base);
        }
      }
    }
    return Optional.empty();
  }

  /** Every family's type, by the name its {@code # TYPE} line gives. */
  public Map<String, String> types() {
    return Map.copyOf(types);
  }

  /** Every sample, in page order. */
  public List<Sample> samples() {
    return List.copyOf(samples);
  }

  /** The names of every sample (with suffixes such as {@code _count}) and every family. */
  public java.util.Set<String> names() {
    java.util.Set<String> names = new java.util.TreeSet<>(types.keySet());
    samples.forEach(s -> names.add(s.name()));
    return names;
  }

  /**
   * The value of the one sample named {@code name} whose labels include {@code labels} (given as
   * name, value, name, value...).
   *
   * @throws IllegalArgumentException when none, or more than one, matches
   */
  public double value(String name, String... labels) {
    List<Sample> found = new ArrayList<>();
    for (Sample s : samples) {
      if (!s.name().equals(name)) {
        continue;
      }
      boolean all = true;
      for (int k = 0; k + 1 < labels.length; k += 2) {
        all &= labels[k + 1].equals(s.labels().get(labels[k]));
      }
      if (all) {
        found.add(s);
      }
    }
    if (found.size() != 1) {
      throw new IllegalArgumentException(
          found.size() + " samples match " + name + " " + List.of(labels));
    }
    return found.get(0).value();
  }
}
