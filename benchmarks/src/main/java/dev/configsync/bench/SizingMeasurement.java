package dev.configsync.bench;

import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.PublishResult;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * JVM sizing of the shipped agent (docs/operations.md, "Sizing"): the real {@code configsync-agent}
 * jar, started as a child process through the shipped launcher {@code bin/configsync-agent} (so
 * with the JVM options users get from us) plus GC logging, dials a real control plane in this
 * process, which publishes configurations made by {@link ConfigGenerator}. The GC log gives every
 * stop-the-world pause and the heap after each collection; {@code /proc} gives the process's peak
 * resident set. One row per candidate and size: the longest pause, against the goal of 50 ms.
 *
 * <p>Quick mode measures the shipped defaults at 1, 16 and 100 MB (under three minutes); full mode
 * also the candidates the defaults were chosen from; smoke mode the shipped defaults on a small
 * configuration, asking for one collection after the apply (a configuration that small may need
 * none). Needs {@code agent/target/configsync-agent.jar}: {@code benchmarks/run} builds it.
 */
final class SizingMeasurement implements Measurement {
  /** The goal: no stop-the-world pause over 50 ms while applying a configuration. */
  static final double GOAL_MILLIS = 50;

  /** Publishes per size (2 above 16 MB): each a different configuration, replacing the last. */
  private static final int PUBLISHES = 3;

  private static final long MAX_PAYLOAD = 256L << 20;

  /** The largest configuration the launcher's default heap is for (docs/operations.md). */
  static final int SHIPPED_HEAP_FITS_BYTES = 16 << 20;

  /** The heap docs/operations.md gives for a 100 MB configuration. */
  static final String LARGE_HEAP = "4g";

  /**
   * A JVM configuration to compare: {@code options} appended through {@code CONFIGSYNC_JAVA_OPTS}
   * (they replace the launcher's collector or heap defaults when they name one), or, with {@code
   * bypassLauncher}, {@code java -jar} with the JVM's own defaults.
   */
  record Candidate(String name, List<String> options, boolean bypassLauncher) {
    Candidate {
      options = List.copyOf(options);
    }

    static Candidate shipped() {
      return new Candidate("shipped defaults", List.of(), false);
    }
  }

  /**
   * Above 16 MB the shipped heap is too small: the launcher's documented override
   * (docs/operations.md, "Sizing").
   */
  static Candidate shippedWithHeap(String maxHeap) {
    return new Candidate("shipped defaults, -Xmx" + maxHeap, List.of("-Xmx" + maxHeap), false);
  }

  /** What full mode compares the shipped defaults with. */
  static List<Candidate> candidates() {
    return List.of(
        new Candidate("JVM defaults (java -jar)", List.of(), true),
        Candidate.shipped(),
        new Candidate(
            "G1, 50 ms goal, 2g",
            List.of("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=50", "-Xmx2g"),
            false),
        new Candidate("ZGC, 2g", List.of("-XX:+UseZGC", "-Xmx2g"), false),
        new Candidate("Parallel, 2g", List.of("-XX:+UseParallelGC", "-Xmx2g"), false),
        new Candidate("Serial, 2g", List.of("-XX:+UseSerialGC", "-Xmx2g"), false));
  }

  @Override
  public String name() {
    return "sizing";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    Path root = repositoryRoot();
    List<Integer> sizes =
        mode == Mode.SMOKE ? mode.configBytes() : List.of(1 << 20, 16 << 20, 100 << 20);
    List<Candidate> candidates = mode == Mode.FULL ? candidates() : List.of(Candidate.shipped());
    int publishes = mode == Mode.SMOKE ? 1 : PUBLISHES;
    TestPki pki = TestPki.create();
    List<Result> rows = new ArrayList<>();
    for (Candidate candidate : candidates) {
      for (int bytes : sizes) {
        // The shipped heap is for configurations up to 16 MB; larger ones get the documented -Xmx.
        Candidate c =
            candidate.equals(Candidate.shipped()) && bytes > SHIPPED_HEAP_FITS_BYTES
                ? shippedWithHeap(LARGE_HEAP)
                : candidate;
        // Two publishes at 100 MB (each takes tens of seconds) keep quick mode under 3 minutes.
        int n = bytes > SHIPPED_HEAP_FITS_BYTES ? Math.min(publishes, 2) : publishes;
        rows.add(measure(root, pki, c, bytes, n, mode == Mode.SMOKE));
      }
    }
    return rows;
  }

  private static Result measure(
      Path root, TestPki pki, Candidate candidate, int bytes, int publishes, boolean askForGc)
      throws Exception {
    String loadBefore = loadAverage();
    Path dir = Floors.tempDirectory("sizing");
    Path gcLog = dir.resolve("gc.log");
    List<Double> applies = new ArrayList<>();
    long peakRssKiB;
    long rssAnonKiB;
    long rssShmemKiB;
    try (ControlPlaneServer cp =
        CpRig.startControlPlane(pki, 0, new InMemoryConfigStore(), MAX_PAYLOAD)) {
      Process agent = startAgent(root, pki, candidate, cp, dir, gcLog);
      try {
        CpRig.await(
            "the agent to connect (see " + dir.resolve("agent.err") + ")",
            Duration.ofSeconds(60),
            () -> CpRig.connected(cp) == 1 || !agent.isAlive());
        for (int i = 0; i < publishes && agent.isAlive(); i++) {
          PublishResult published = cp.publish(CpRig.config(1000L * bytes + i, bytes));
          long start = System.nanoTime();
          CpRig.await(
              "the agent to apply " + published.hash(),
              Duration.ofMinutes(5),
              () -> CpRig.nodesOn(cp, published.hash()) == 1 || !agent.isAlive());
          applies.add(CpRig.millis(System.nanoTime() - start));
        }
        if (!agent.isAlive()) {
          // Out of heap (the launcher's -XX:+ExitOnOutOfMemoryError) or refused: a failed row.
          return Result.absolute(
              "longest GC pause, agent applying",
              CpRig.workload(bytes) + ", " + candidate.name(),
              Double.POSITIVE_INFINITY,
              "ms",
              GOAL_MILLIS,
              "the agent exited with status " + agent.exitValue() + ": " + lastLine(dir));
        }
        if (askForGc) {
          // A small configuration may need no collection at all (ZGC): smoke mode asks for one
          // (jcmd GC.run), so that the GC log has a pause to read and the pipeline is proven.
          Process jcmd =
              new ProcessBuilder(
                      Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                      Long.toString(agent.pid()),
                      "GC.run")
                  .redirectErrorStream(true)
                  .redirectOutput(dir.resolve("jcmd.out").toFile())
                  .start();
          if (!jcmd.waitFor(60, TimeUnit.SECONDS) || jcmd.exitValue() != 0) {
            throw new IllegalStateException("jcmd GC.run failed: see " + dir.resolve("jcmd.out"));
          }
        }
        peakRssKiB = procStatusKiB(agent.pid(), "VmHWM");
        rssAnonKiB = procStatusKiB(agent.pid(), "RssAnon");
        rssShmemKiB = procStatusKiB(agent.pid(), "RssShmem");
      } finally {
        agent.destroy(); // SIGTERM: the agent stops cleanly, the JVM closes its GC log
        if (!agent.waitFor(30, TimeUnit.SECONDS)) {
          agent.destroyForcibly().waitFor();
        }
      }
      GcLog log = GcLog.read(gcLog);
      double mb = bytes / 1048576.0;
      return Result.absolute(
          "longest GC pause, agent applying",
          CpRig.workload(bytes) + ", " + candidate.name(),
          log.maxPauseMillis(),
          "ms",
          GOAL_MILLIS,
          String.format(
              Locale.ROOT,
              "%d pauses (%d over %.0f ms), %s ms in all; %d allocation stalls; heap after GC up"
                  + " to %d MiB (%.1f MiB per MB of config), committed up to %s MiB; peak RSS %d"
                  + " MiB, at the end %d MiB anonymous + %d MiB shared (ZGC maps its heap three"
                  + " times: count the shared part once); apply median %s ms (%d publishes); JVM"
                  + " options %s; load average %s -> %s",
              log.pausesMillis().size(),
              log.pausesOver(GOAL_MILLIS),
              GOAL_MILLIS,
              CpRig.fmt(log.totalPauseMillis()),
              log.allocationStalls(),
              log.maxHeapAfterGcMiB(),
              log.maxHeapAfterGcMiB() / mb,
              log.maxCommittedMiB() == 0 ? "?" : Long.toString(log.maxCommittedMiB()),
              peakRssKiB >> 10,
              rssAnonKiB >> 10,
              rssShmemKiB >> 10,
              CpRig.fmt(CpRig.median(applies)),
              applies.size(),
              candidate.bypassLauncher()
                  ? "none (java -jar)"
                  : candidate.options().isEmpty()
                      ? "launcher defaults"
                      : String.join(" ", candidate.options()),
              loadBefore,
              loadAverage()));
    } finally {
      Floors.deleteQuietly(dir);
    }
  }

  private static Process startAgent(
      Path root, TestPki pki, Candidate candidate, ControlPlaneServer cp, Path dir, Path gcLog)
      throws IOException {
    return agentProcess(root, pki, candidate, cp, dir, gcLog)
        .redirectOutput(dir.resolve("agent.out").toFile())
        .start();
  }

  /**
   * The shipped agent's command (through {@code bin/configsync-agent} unless the candidate bypasses
   * the launcher) against {@code cp}, with GC logging to {@code gcLog}; stderr to {@code
   * dir/agent.err}, stdout left to the caller.
   */
  static ProcessBuilder agentProcess(
      Path root, TestPki pki, Candidate candidate, ControlPlaneServer cp, Path dir, Path gcLog)
      throws IOException {
    Path files = pki.writeDataPlaneFiles(dir.resolve("pki"));
    List<String> jvm = new ArrayList<>(candidate.options());
    jvm.add("-Xlog:gc*:file=" + gcLog + ":uptime,tags");
    List<String> command = new ArrayList<>();
    if (candidate.bypassLauncher()) {
      command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      command.addAll(jvm);
      command.add("-jar");
      command.add(agentJar(root).toString());
    } else {
      command.add(root.resolve("bin/configsync-agent").toString());
    }
    command.add("run");
    command.addAll(dialArgs(cp, files));
    command.addAll(
        List.of(
            "--cache-dir",
            dir.resolve("cache").toString(),
            "--output",
            dir.resolve("config.json").toString()));
    CpRig.PLUGINS.forEach((name, version) -> command.add("--capability=" + name + "=" + version));
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectError(dir.resolve("agent.err").toFile());
    // The launcher finds the JVM through JAVA_HOME: the one running this benchmark.
    builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
    builder.environment().remove("JAVA_OPTS");
    builder.environment().put("CONFIGSYNC_JAVA_OPTS", String.join(" ", jvm));
    agentJar(root); // fail early, with a message, when the jar is not built
    return builder;
  }

  /**
   * The flags that point the agent (or the example gateway, which takes the same) at {@code cp}
   * with the data plane's PEM files in {@code files} ({@code TestPki.writeDataPlaneFiles}).
   */
  static List<String> dialArgs(ControlPlaneServer cp, Path files) {
    return List.of(
        "--control-plane",
        CpRig.uri(cp).toString(),
        "--cert",
        files.resolve("dp.crt").toString(),
        "--key",
        files.resolve("dp.key").toString(),
        "--ca",
        files.resolve("ca.crt").toString());
  }

  private static Path agentJar(Path root) {
    Path jar = root.resolve("agent/target/configsync-agent.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(
          jar + " does not exist: build it (benchmarks/run does; or mvn -pl agent -am package)");
    }
    return jar;
  }

  /** The checkout: the first directory, from here upwards, that holds bin/configsync-agent. */
  static Path repositoryRoot() {
    for (@Nullable Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve("bin/configsync-agent"))) {
        return dir;
      }
    }
    throw new IllegalStateException(
        "no bin/configsync-agent in "
            + Path.of("").toAbsolutePath()
            + " or above: run from the"
            + " repository");
  }

  /** A field of /proc/PID/status in KiB ("VmHWM": peak resident set), or 0 where none. */
  static long procStatusKiB(long pid, String field) throws IOException {
    Path status = Path.of("/proc", Long.toString(pid), "status");
    if (!Files.exists(status)) {
      return 0;
    }
    for (String line : Files.readAllLines(status, StandardCharsets.US_ASCII)) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.substring(field.length() + 1).replace("kB", "").strip());
      }
    }
    return 0;
  }

  /** The 1-minute load average, as /proc/loadavg says it, or "?" off Linux. */
  static String loadAverage() {
    try {
      String line = Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII);
      return line.substring(0, Math.max(0, line.indexOf(' ')));
    } catch (IOException e) {
      return "?";
    }
  }

  /** The agent's last line on stderr (or stdout), for a row that failed. */
  private static String lastLine(Path dir) throws IOException {
    for (String name : List.of("agent.err", "agent.out")) {
      Path file = dir.resolve(name);
      if (Files.exists(file)) {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = lines.size() - 1; i >= 0; i--) {
          if (!lines.get(i).isBlank()) {
            return lines.get(i).strip();
          }
        }
      }
    }
    return "(no output)";
  }
}
