package dev.configsync.cli.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.configsync.cli.StopSignal;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A command started in-process on a thread of its own, with its stdout and stderr captured, and
 * stopped the way SIGTERM stops it (through its {@link StopSignal}).
 */
public final class RunningCommand implements AutoCloseable {
  /** A command's entry point that takes its streams and stop signal: {@code Main.run}. */
  @FunctionalInterface
  public interface Entry {
    /**
     * Runs the command to its end.
     *
     * @param args the arguments
     * @param out its stdout
     * @param err its stderr
     * @param stop how it is asked to stop
     * @return the exit status
     */
    int run(String[] args, PrintStream out, PrintStream err, StopSignal stop);
  }

  // ByteArrayOutputStream and PrintStream are synchronized: safe to write and read concurrently.
  private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
  private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
  private final StopSignal stop = new StopSignal();
  private final CompletableFuture<Integer> exit = new CompletableFuture<>();
  private final String threadName;

  /**
   * Starts {@code entry} with {@code args} on a daemon thread named {@code threadName}.
   *
   * @param threadName the thread's name, which also names the command in failures
   * @param entry the command's entry point
   * @param args its arguments
   */
  public RunningCommand(String threadName, Entry entry, List<String> args) {
    this.threadName = threadName;
    PrintStream out = new PrintStream(outBytes, true, UTF_8);
    PrintStream err = new PrintStream(errBytes, true, UTF_8);
    Thread thread =
        new Thread(
            () -> {
              try {
                exit.complete(entry.run(args.toArray(new String[0]), out, err, stop));
              } catch (Throwable e) {
                exit.completeExceptionally(e);
              }
            },
            threadName);
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Everything printed on stdout so far.
   *
   * @return the text
   */
  public String out() {
    return outBytes.toString(UTF_8);
  }

  /**
   * Everything printed on stderr so far.
   *
   * @return the text
   */
  public String err() {
    return errBytes.toString(UTF_8);
  }

  /**
   * Whether the command has returned.
   *
   * @return true once it has
   */
  public boolean isDone() {
    return exit.isDone();
  }

  /**
   * Stops the command the way SIGTERM does and returns its exit status.
   *
   * @return the exit status
   * @throws Exception when it failed or did not stop within 30 s
   */
  public int stop() throws Exception {
    stop.requestStop();
    return exitCode();
  }

  /**
   * The exit status, for a command that returns by itself.
   *
   * @return the exit status
   * @throws Exception when it failed or did not return within 30 s
   */
  public int exitCode() throws Exception {
    return exit.get(30, TimeUnit.SECONDS);
  }

  /** Stops the command if it still runs; fails if it does not stop cleanly. */
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
      throw new IllegalStateException("interrupted while stopping " + threadName, e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException(threadName + " did not stop cleanly", e);
    }
  }
}
