package dev.configsync.examples;

import static dev.configsync.examples.DemoNarrator.describe;
import static dev.configsync.examples.DemoNarrator.seconds;

import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.examples.DemoNarrator.StepFailed;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The resilience demo: a control plane ({@link ControlPlaneServer}, with its store on disk and its
 * admin HTTP API) and two data planes on 127.0.0.1, over real mutual TLS, with real caches on disk.
 * It publishes (through the Java API and through the admin API, as an operator would), kills the
 * control plane, restarts a data plane from its cache, publishes while the nodes cannot reach any
 * control plane, brings the control plane back on its store, and checks every claim it narrates.
 *
 * <pre>
 * mvn -B -q install -DskipTests &amp;&amp; java -jar examples/target/configsync-demo.jar [--keep]
 * </pre>
 *
 * <p>{@code --keep} keeps the temporary directory (certificates are in memory; the directory holds
 * each node's {@code config.json.gz} and {@code node.id}, and the control plane's store). {@code
 * -Dconfigsync.demo.verbose=true} shows configsync's INFO logs and stack traces. Exit code 0 when
 * every check passed, 1 otherwise.
 */
public final class ResilienceDemo {
  /** Set to {@code true} to see the library's INFO logs and stack traces. */
  static final String VERBOSE_PROPERTY = "configsync.demo.verbose";

  private ResilienceDemo() {}

  /** Runs the demo; exits 0 when every check passed, 1 when one failed, 2 on a usage error. */
  public static void main(String[] args) {
    boolean keep = false;
    for (String arg : args) {
      if (arg.equals("--keep")) {
        keep = true;
      } else if (arg.equals("--help") || arg.equals("-h")) {
        System.out.println(usage());
        return;
      } else {
        System.err.println("Unknown argument: " + arg + "\n" + usage());
        System.exit(2);
      }
    }
    if (Boolean.getBoolean(VERBOSE_PROPERTY)) {
      // Must happen before the first logger is created; slf4j-simple reads it once.
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
    }
    System.exit(run(System.out, keep));
  }

  private static String usage() {
    return "Usage: java [-D" + VERBOSE_PROPERTY + "=true] -jar configsync-demo.jar [--keep]";
  }

  /**
   * Runs the whole demo, narrating on {@code out}.
   *
   * @param keep whether to keep the temporary directory instead of deleting it
   * @return 0 when every check passed, 1 otherwise
   */
  static int run(PrintStream out, boolean keep) {
    boolean verbose = Boolean.getBoolean(VERBOSE_PROPERTY);
    long started = System.nanoTime();
    Path dir;
    try {
      dir = Files.createTempDirectory("configsync-demo-");
    } catch (IOException e) {
      out.println("FAILED: cannot create a temporary directory: " + e);
      return 1;
    }
    DemoStory demo = new DemoStory(out, dir);
    DemoNarrator narrator = demo.narrator();
    try {
      demo.tell();
    } catch (StepFailed e) {
      out.println("  Stopping here: the next steps depend on this one.");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      narrator.failed("the demo was interrupted");
    } catch (RuntimeException | IOException e) {
      narrator.failed("unexpected error: " + describe(e));
      if (verbose) {
        e.printStackTrace(out);
      }
    } finally {
      demo.stopEverything();
    }
    out.println();
    if (keep) {
      out.println("Kept " + dir + " (--keep).");
    } else {
      deleteRecursively(dir, out);
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    if (narrator.failures().isEmpty()) {
      out.printf(Locale.ROOT, "All %d checks passed in %.1f s.%n", narrator.passed(), seconds);
      return 0;
    }
    out.printf(
        Locale.ROOT,
        "FAILED after %.1f s: %d check(s) passed, %d did not:%n",
        seconds,
        narrator.passed(),
        narrator.failures().size());
    for (String failure : narrator.failures()) {
      out.println("  - " + failure);
    }
    return 1;
  }

  private static void deleteRecursively(Path dir, PrintStream out) {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
        Files.delete(p);
      }
      out.println("Deleted " + dir + ".");
    } catch (IOException e) {
      out.println("Could not delete " + dir + ": " + e);
    }
  }
}
