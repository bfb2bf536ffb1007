package dev.configsync.bench;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The end-to-end benchmark runner behind {@code benchmarks/run}: runs the measurements, prints one
 * table of measure, workload, floor, ours, ratio, goal and pass/fail, and with {@code --strict}
 * exits with status 1 when a goal is missed.
 *
 * <pre>
 * benchmarks/run [--smoke | --quick | --full] [--strict] [--only NAME,...] [--markdown FILE]
 * benchmarks/run --jmh [JMH arguments]
 * </pre>
 */
public final class BenchmarkRunner {

  private BenchmarkRunner() {}

  /** Every measurement, in table order. */
  static List<Measurement> all() {
    return List.of(
        new HashMeasurement(),
        new ApplyMeasurement(),
        new ColdStartMeasurement(),
        new CacheWriteMeasurement(),
        new PeakHeapMeasurement(),
        // the shipped agent as a process: GC pauses and heap with the launcher's JVM options
        new SizingMeasurement(),
        // control plane
        new PublishToListener(),
        new FanOut(),
        new IdleConnections(),
        new ReconnectStorm(),
        // the example gateway: request latency against the number of routes
        new GatewayLatency(),
        // incremental sync (issue 17): one-entity changes
        new DeltaApplyMeasurement(),
        new EntityPutMeasurement(),
        new AgentEntityLatency(),
        new FanOutDelta(),
        new GatewayUnderLoad());
  }

  /** Command-line entry point; see the class description. */
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--jmh")) {
      org.openjdk.jmh.Main.main(Arrays.copyOfRange(args, 1, args.length));
      return;
    }
    // As the example gateway's main does (GatewayMain.noDelay): without TCP_NODELAY the JDK's HTTP
    // server adds a delayed-ACK wait (40 ms) to every answer, which would be all the gateway row
    // saw.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
    // The client logs every apply at INFO; the table is the output here.
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    Mode mode = Mode.QUICK;
    boolean strict = false;
    Set<String> only = new LinkedHashSet<>();
    @Nullable Path markdown = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--smoke" -> mode = Mode.SMOKE;
        case "--quick" -> mode = Mode.QUICK;
        case "--full" -> mode = Mode.FULL;
        case "--strict" -> strict = true;
        case "--only" -> only.addAll(List.of(value(args, ++i, "--only").split(",", -1)));
        case "--markdown" -> markdown = Path.of(value(args, ++i, "--markdown"));
        default -> usage("unknown argument: " + args[i]);
      }
    }
    List<Measurement> chosen = choose(all(), only);
    System.out.printf(
        Locale.ROOT,
        "configsync benchmarks, %s mode, %d measurement(s); java %s, %d cores, max heap %d MiB%n",
        mode.name().toLowerCase(Locale.ROOT),
        chosen.size(),
        System.getProperty("java.version"),
        Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().maxMemory() >> 20);
    List<Result> results = new ArrayList<>();
    for (Measurement m : chosen) {
      System.out.printf(Locale.ROOT, "running %s ...%n", m.name());
      List<Result> rows = m.run(mode);
      for (Result r : rows) {
        System.out.println("  " + line(r));
      }
      results.addAll(rows);
    }
    String table = table(results);
    System.out.println();
    System.out.print(table);
    if (markdown != null) {
      Files.writeString(markdown, table, StandardCharsets.UTF_8);
    }
    long failed = results.stream().filter(r -> !r.pass()).count();
    System.out.printf(
        Locale.ROOT, "%n%d of %d goals met%n", results.size() - failed, results.size());
    if (strict && failed > 0) {
      System.exit(1);
    }
  }

  static List<Measurement> choose(List<Measurement> all, Set<String> only) {
    if (only.isEmpty()) {
      return all;
    }
    Set<String> known = all.stream().map(Measurement::name).collect(Collectors.toSet());
    for (String name : only) {
      if (!known.contains(name)) {
        usage("--only: no measurement named '" + name + "'; known: " + String.join(",", known));
      }
    }
    return all.stream().filter(m -> only.contains(m.name())).toList();
  }

  /** The results as a Markdown table, one row per result. */
  static String table(List<Result> results) {
    StringBuilder out = new StringBuilder();
    out.append(
        "| measure | workload | floor | floor value | ours | ratio | goal | result | note |\n");
    out.append("|---|---|---|---:|---:|---:|---:|---|---|\n");
    for (Result r : results) {
      out.append("| ")
          .append(r.measure())
          .append(" | ")
          .append(r.workload())
          .append(" | ")
          .append(r.floorName())
          .append(" | ")
          .append(r.absolute() ? "" : number(r.floor()) + " " + r.unit())
          .append(" | ")
          .append(number(r.ours()))
          .append(' ')
          .append(r.unit())
          .append(" | ")
          .append(r.absolute() ? "" : String.format(Locale.ROOT, "%.2f", r.ratio()))
          .append(" | ")
          .append(r.absolute() ? "<= " + number(r.goal()) + " " + r.unit() : "<= " + r.goal())
          .append(" | ")
          .append(r.pass() ? "pass" : "FAIL")
          .append(" | ")
          .append(r.note().replace('|', '/'))
          .append(" |\n");
    }
    return out.toString();
  }

  private static String line(Result r) {
    return r.absolute()
        ? String.format(
            Locale.ROOT,
            "%s, %s: %s %s (goal <= %s) %s",
            r.measure(),
            r.workload(),
            number(r.ours()),
            r.unit(),
            number(r.goal()),
            r.pass() ? "pass" : "FAIL")
        : String.format(
            Locale.ROOT,
            "%s, %s: ours %s %s, floor %s %s, ratio %.2f (goal <= %s) %s",
            r.measure(),
            r.workload(),
            number(r.ours()),
            r.unit(),
            number(r.floor()),
            r.unit(),
            r.ratio(),
            r.goal(),
            r.pass() ? "pass" : "FAIL");
  }

  private static String number(double v) {
    return Math.abs(v) >= 100
        ? String.format(Locale.ROOT, "%.0f", v)
        : String.format(Locale.ROOT, "%.3g", v);
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      usage(option + " needs a value");
    }
    return args[i];
  }

  private static void usage(String problem) {
    PrintStream err = System.err;
    err.println("benchmarks: " + problem);
    err.println(
        "usage: benchmarks/run [--smoke | --quick | --full] [--strict] [--only NAME,...]"
            + " [--markdown FILE]");
    err.println("       benchmarks/run --jmh [JMH arguments]");
    System.exit(2);
  }
}
