package dev.configsync.examples;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * How the resilience demo waits, checks and narrates: every claim it prints is a check that passed,
 * every failed check or wait is recorded and printed as FAILED.
 *
 * <p>The demo's thread calls everything but {@link #wake}, which the nodes' listener threads call
 * when they record something.
 */
final class DemoNarrator {
  private final PrintStream out;
  private final int steps;
  private final Object signal = new Object();
  private final Map<String, String> labels = new LinkedHashMap<>();
  private final List<String> failures = new ArrayList<>();
  private int passed;

  DemoNarrator(PrintStream out, int steps) {
    this.out = out;
    this.steps = steps;
  }

  /** How many checks passed. */
  int passed() {
    return passed;
  }

  /** What failed, in order. */
  List<String> failures() {
    return List.copyOf(failures);
  }

  /** Names {@code hash} {@code version} in what {@link #label} prints. */
  void name(String hash, String version) {
    labels.put(hash, version);
  }

  /** The version {@code hash} was published as, or {@code unknown}. */
  String version(String hash) {
    return labels.getOrDefault(hash, "unknown");
  }

  /** Re-checks what {@link #await} waits for; called by the nodes' listener threads. */
  void wake() {
    synchronized (signal) {
      signal.notifyAll();
    }
  }

  /**
   * Waits until {@code condition} holds: re-checked whenever a node's listener sees something, and
   * every 20 ms for what no listener reports (the control plane's view). Fails the demo after
   * {@link DemoTimings#WAIT}.
   */
  void await(String expectation, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + DemoTimings.WAIT.toNanos();
    synchronized (signal) {
      while (!condition.getAsBoolean()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          failed(
              "expected "
                  + expectation
                  + " within "
                  + seconds(DemoTimings.WAIT)
                  + "; it did not happen");
          throw new StepFailed();
        }
        signal.wait(Math.max(1, Math.min(20, left / 1_000_000)));
      }
    }
  }

  /** Says {@code claim} when {@code ok}; otherwise says FAILED with what was expected. */
  void check(boolean ok, String claim, String expected, String actual) {
    if (ok) {
      passed++;
      say(claim);
    } else {
      failed(claim.strip() + " -- expected " + expected + ", got " + actual);
    }
  }

  void failed(String what) {
    failures.add(what);
    out.println("  FAILED: " + what);
  }

  void header(int step, String title) {
    out.println();
    out.println("[" + step + "/" + steps + "] " + title);
  }

  void say(String line) {
    out.println("  " + line);
  }

  /**
   * A hash as {@code 9f3c1a2b (v2)}: its first 8 characters and the version it was published as.
   */
  String label(@Nullable String hash) {
    if (hash == null) {
      return "nothing";
    }
    return hash.substring(0, Math.min(8, hash.length())) + " (" + version(hash) + ")";
  }

  static String millis(long nanos) {
    return nanos < 10_000_000
        ? String.format(Locale.ROOT, "%.1f ms", nanos / 1e6)
        : (nanos / 1_000_000) + " ms";
  }

  static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0
        ? d.toSeconds() + " s"
        : String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }

  static String describe(Throwable e) {
    StringBuilder text = new StringBuilder(e.toString());
    for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
      text.append(" (caused by ").append(cause).append(')');
    }
    return text.toString();
  }

  /** Thrown after a failed wait, to skip the steps that depend on it. */
  static final class StepFailed extends RuntimeException {
    StepFailed() {
      super(null, null, false, false);
    }
  }
}
