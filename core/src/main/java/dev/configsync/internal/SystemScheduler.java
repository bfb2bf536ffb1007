package dev.configsync.internal;

import dev.configsync.spi.Scheduler;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The real clock: one daemon timer thread per client that only hands tasks over to the sync loop.
 * Not API.
 */
public final class SystemScheduler implements Scheduler, AutoCloseable {
  private final ScheduledThreadPoolExecutor timer;

  /** Creates a scheduler whose thread is named {@code threadName}. */
  public SystemScheduler(String threadName) {
    timer =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, threadName);
              t.setDaemon(true);
              return t;
            });
    timer.setRemoveOnCancelPolicy(true);
    timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
  }

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  @Override
  public Cancellable schedule(Runnable task, Duration delay) {
    if (timer.isShutdown()) {
      return () -> {};
    }
    ScheduledFuture<?> f = timer.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
    return () -> f.cancel(false);
  }

  /** Stops the timer thread; pending tasks are dropped. */
  @Override
  public void close() {
    timer.shutdownNow();
  }

  /** Waits up to {@code timeout} for the timer thread to end. */
  public boolean awaitTermination(Duration timeout) throws InterruptedException {
    return timer.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }
}
