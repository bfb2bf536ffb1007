package dev.configsync.cli;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The way a running command is asked to stop, and tells that it has. SIGTERM and SIGINT call {@link
 * #requestStop()} once {@link #handleSignals} is called; so do tests, which thereby take the same
 * path as a signal.
 *
 * <p>Thread-safe: any thread may request a stop or wait; the command's own thread marks it
 * finished.
 */
public final class StopSignal {
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);

  /** A signal not yet raised. */
  public StopSignal() {}

  /** Asks the command to stop cleanly. Idempotent; returns at once. */
  public void requestStop() {
    stopRequested.countDown();
  }

  /**
   * Whether a stop was requested.
   *
   * @return true once {@link #requestStop()} was called
   */
  public boolean isStopRequested() {
    return stopRequested.getCount() == 0;
  }

  /**
   * Waits until a stop is requested.
   *
   * @throws InterruptedException when the waiting thread is interrupted
   */
  public void awaitStopRequest() throws InterruptedException {
    stopRequested.await();
  }

  /** Called by the command when it has stopped (or failed to start): the last thing it does. */
  public void markFinished() {
    finished.countDown();
  }

  /**
   * Waits for {@link #markFinished()}.
   *
   * @param timeout how long to wait at most
   * @return true if it came within {@code timeout}
   * @throws InterruptedException when the waiting thread is interrupted
   */
  public boolean awaitFinished(Duration timeout) throws InterruptedException {
    return finished.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Makes SIGTERM and SIGINT request a stop, and adds a shutdown hook that requests one and waits
   * up to {@code hookWait} for the command to finish, for any other way the JVM may be shut down
   * (and instead of the signal handlers where the JVM does not allow them). For a command started
   * by {@code main} only: handlers and hook belong to the whole JVM.
   *
   * @param commandName the command's name, for the hook's thread name
   * @param what what stops, in log lines: "the agent", "the control plane"
   * @param hookWait how long the hook waits for {@link #markFinished()}
   */
  public void handleSignals(String commandName, String what, Duration hookWait) {
    Logger log = LoggerFactory.getLogger(StopSignal.class);
    if (!Signals.install(commandName, this::requestStop)) {
      log.info("SIGTERM/SIGINT cannot be handled directly; a shutdown hook stops {}", what);
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  requestStop();
                  try {
                    if (!awaitFinished(hookWait)) {
                      log.warn("{} did not stop within {}", what, hookWait);
                    }
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                },
                commandName + "-shutdown"));
  }
}
