package dev.configsync.cp.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code configsync-cp} started in-process on a thread of its own, stdout and stderr captured. */
final class RunningControlPlane implements AutoCloseable {
  private static final Pattern READY =
      Pattern.compile(
          "configsync-cp ready: data planes on (\\S+):(\\d+) \\((\\w+) mode\\), (admin API on"
              + " http://(\\S+):(\\d+)|admin API off).*");

  // ByteArrayOutputStream and PrintStream are synchronized: safe to write and read concurrently.
  private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
  private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
  private final StopSignal stop = new StopSignal();
  private final CompletableFuture<Integer> exit = new CompletableFuture<>();

  RunningControlPlane(List<String> args) {
    PrintStream out = new PrintStream(outBytes, true, UTF_8);
    PrintStream err = new PrintStream(errBytes, true, UTF_8);
    Thread thread =
        new Thread(
            () -> {
              try {
                exit.complete(ControlPlaneMain.run(args.toArray(new String[0]), out, err, stop));
              } catch (Throwable e) {
                exit.completeExceptionally(e);
              }
            },
            "configsync-cp-under-test");
    thread.setDaemon(true);
    thread.start();
  }

  String out() {
    return outBytes.toString(UTF_8);
  }

  String err() {
    return errBytes.toString(UTF_8);
  }

  /** Waits for the ready line (failing early if the command exits instead) and returns it. */
  Matcher awaitReady() {
    await().atMost(Duration.ofSeconds(30)).until(() -> out().contains(" ready: ") || exit.isDone());
    String line = out().lines().filter(l -> l.contains(" ready: ")).findFirst().orElse(null);
    if (line == null) {
      throw new AssertionError("configsync-cp exited before it was ready: " + err());
    }
    Matcher m = READY.matcher(line);
    if (!m.matches()) {
      throw new AssertionError("unexpected ready line: " + line);
    }
    return m;
  }

  int dataPlanePort() {
    return Integer.parseInt(awaitReady().group(2));
  }

  int adminPort() {
    return Integer.parseInt(awaitReady().group(6));
  }

  /** Stops it the way SIGTERM does and returns its exit status. */
  int stop() throws Exception {
    stop.requestStop();
    return exit.get(30, TimeUnit.SECONDS);
  }

  /** The exit status of a command that returns by itself. */
  int exitCode() throws Exception {
    return exit.get(30, TimeUnit.SECONDS);
  }

  /** Stops it if it still runs. */
  @Override
  public void close() {
    if (exit.isDone()) {
      return;
    }
    stop.requestStop();
    try {
      exit.get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while stopping configsync-cp", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("configsync-cp did not stop cleanly", e);
    }
  }
}
