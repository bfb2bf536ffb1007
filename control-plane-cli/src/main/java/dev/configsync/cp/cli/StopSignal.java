package dev.configsync.cp.cli;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The way a running control plane is asked to stop, and tells that it has. SIGTERM and SIGINT call
 * {@link #requestStop()}; so do tests, which thereby take the same path as a signal.
 */
final class StopSignal {
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);

  /** Asks the control plane to stop cleanly. Idempotent; returns at once. */
  void requestStop() {
    stopRequested.countDown();
  }

  /** Whether a stop was requested. */
  boolean isStopRequested() {
    return stopRequested.getCount() == 0;
  }

  /** Waits until a stop is requested. */
  void awaitStopRequest() throws InterruptedException {
    stopRequested.await();
  }

  /** Called by the command when it has stopped (or failed to start): the last thing it does. */
  void markFinished() {
    finished.countDown();
  }

  /** Waits up to {@code timeout} for {@link #markFinished()}; true if it came. */
  boolean awaitFinished(Duration timeout) throws InterruptedException {
    return finished.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }
}
