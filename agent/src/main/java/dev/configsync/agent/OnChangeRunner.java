package dev.configsync.agent;

import dev.configsync.cli.Durations;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the {@code --on-change} command, {@code sh -c CMD}, after each new configuration, on a
 * thread of its own so that the client's listener thread is never held up by it.
 *
 * <p>One run at a time. Changes that arrive while a run is under way are coalesced: when it ends,
 * the command runs once more, for the latest hash only. A run that outlives the time limit is
 * killed (the shell and its descendants: SIGTERM, then SIGKILL two seconds later) and reported as
 * failed. The command's stdout and stderr go to the agent's stderr, line by line with an {@code
 * on-change:} prefix, never to the agent's stdout, which carries only event lines.
 *
 * <p>Thread-safe.
 */
final class OnChangeRunner {
  /** How long a run may take before it is killed. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  private static final Logger log = LoggerFactory.getLogger(OnChangeRunner.class);
  private static final Duration KILL_GRACE = Duration.ofSeconds(2);

  private final String command;
  private final @Nullable Path output;
  private final Duration timeout;
  private final EventLines events;
  private final PrintStream childOutput;
  private final Clock clock;
  private final ExecutorService executor;
  private final Object lock = new Object();
  private @Nullable Request pending; // guarded by lock: the next run
  private boolean draining; // guarded by lock: a drain task is queued or running
  private boolean closed; // guarded by lock

  /**
   * @param command the shell command
   * @param output the {@code --output} file, passed as {@code CONFIGSYNC_OUTPUT}, or null
   * @param timeout how long a run may take before it is killed
   * @param events where to report each run
   * @param childOutput where the command's output goes (the agent's stderr)
   */
  OnChangeRunner(
      String command,
      @Nullable Path output,
      Duration timeout,
      EventLines events,
      PrintStream childOutput,
      Clock clock) {
    this.command = command;
    this.output = output;
    this.timeout = timeout;
    this.events = events;
    this.childOutput = childOutput;
    this.clock = clock;
    this.executor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "configsync-on-change");
              t.setDaemon(true);
              return t;
            });
  }

  /** A run asked for: the configuration's hash, and whether the proxy is to serve it. */
  private record Request(String hash, boolean serving) {}

  /** As {@link #submit(String, boolean)} for a configuration to serve. */
  void submit(String hash) {
    submit(hash, true);
  }

  /**
   * Asks for a run for the configuration {@code hash}, with {@code CONFIGSYNC_SERVING} set to
   * {@code serving} ({@code false} when the license expired and the proxy must serve nothing).
   * Returns at once: the run starts now, or after the one under way (replacing any other waiting
   * request). Ignored after {@link #close}.
   */
  void submit(String hash, boolean serving) {
    synchronized (lock) {
      if (closed) {
        return;
      }
      pending = new Request(hash, serving);
      if (draining) {
        return;
      }
      draining = true;
    }
    executor.execute(this::drain);
  }

  private void drain() {
    while (true) {
      Request next;
      synchronized (lock) {
        next = pending;
        pending = null;
        if (next == null || closed) {
          draining = false;
          return;
        }
      }
      runOnce(next.hash(), next.serving());
    }
  }

  private void runOnce(String hash, boolean serving) {
    long start = System.nanoTime();
    ProcessBuilder builder = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true);
    Map<String, String> env = builder.environment();
    env.put("CONFIGSYNC_HASH", hash);
    env.put("CONFIGSYNC_SERVING", String.valueOf(serving));
    if (output != null) {
      env.put("CONFIGSYNC_OUTPUT", output.toString());
    } else {
      env.remove("CONFIGSYNC_OUTPUT");
    }
    Process process;
    try {
      process = builder.start();
    } catch (IOException | RuntimeException e) {
      events.print(
          new AgentEvent.OnChangeFailed(
              clock.instant(), hash, "cannot start sh: " + e.getMessage(), since(start)));
      return;
    }
    Thread pump = pump(process);
    try {
      process.getOutputStream().close(); // the command reads no input
    } catch (IOException e) {
      log.debug("cannot close the on-change command's stdin", e);
    }
    try {
      if (process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        pump.join(1_000); // a background child may hold the pipe open: do not wait for it
        events.print(
            new AgentEvent.OnChangeFinished(
                clock.instant(), hash, process.exitValue(), since(start)));
      } else {
        kill(process);
        events.print(
            new AgentEvent.OnChangeFailed(
                clock.instant(),
                hash,
                "timed out after " + Durations.format(timeout) + "; killed",
                since(start)));
      }
    } catch (InterruptedException e) {
      // close() gave up waiting for this run: the agent is stopping.
      kill(process);
      events.print(
          new AgentEvent.OnChangeFailed(
              clock.instant(), hash, "killed: the agent is stopping", since(start)));
      Thread.currentThread().interrupt();
    }
  }

  private Thread pump(Process process) {
    Thread pump =
        new Thread(
            () -> {
              try (BufferedReader lines =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                  childOutput.println("on-change: " + line);
                }
              } catch (IOException e) {
                log.debug("reading the on-change command's output failed", e);
              }
            },
            "configsync-on-change-output");
    pump.setDaemon(true);
    pump.start();
    return pump;
  }

  private static void kill(Process process) {
    process.descendants().forEach(ProcessHandle::destroy);
    process.destroy();
    try {
      if (!process.waitFor(KILL_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static Duration since(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  /**
   * Stops: drops a waiting request, lets a run under way finish for up to {@code grace}, then kills
   * it (which is reported). Returns when the runner's thread has stopped, or a few seconds after.
   */
  void close(Duration grace) {
    synchronized (lock) {
      closed = true;
      if (pending != null) {
        log.info("on-change run for {} skipped: the agent is stopping", pending.hash());
      }
      pending = null;
    }
    executor.shutdown();
    try {
      if (!executor.awaitTermination(grace.toNanos(), TimeUnit.NANOSECONDS)) {
        executor.shutdownNow();
        if (!executor.awaitTermination(KILL_GRACE.toSeconds() + 3, TimeUnit.SECONDS)) {
          log.warn("the on-change thread did not stop; leaving it (daemon)");
        }
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
