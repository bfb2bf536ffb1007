package dev.configsync.spi;

import java.time.Duration;

/**
 * The source of monotonic time and delayed execution for a client: heartbeats, dead-peer detection,
 * reconnect delays and cache-write bounds all go through it, so that tests can drive time by hand
 * instead of waiting for it.
 *
 * <p>Tasks may run on any thread; the client hands them to its own serial sync loop, so an
 * implementation needs no ordering guarantees beyond running each task once, no earlier than its
 * delay.
 */
public interface Scheduler {

  /** Monotonic time in nanoseconds, like {@link System#nanoTime()}. */
  long nanoTime();

  /** Runs {@code task} once after {@code delay}. */
  Cancellable schedule(Runnable task, Duration delay);

  /** A scheduled task that can be cancelled. */
  @FunctionalInterface
  interface Cancellable {
    /** Cancels the task if it has not started. Idempotent. */
    void cancel();
  }
}
