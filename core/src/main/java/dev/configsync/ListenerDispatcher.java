package dev.configsync;

import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands callbacks to user code one at a time, in order, on the listener executor, whatever that
 * executor's own threading. A callback that throws is logged and the next one runs: user code can
 * never stop the client's machinery.
 */
final class ListenerDispatcher {
  private static final Logger log = LoggerFactory.getLogger(ListenerDispatcher.class);

  private final Executor executor;
  private final Object lock = new Object();
  private final Queue<Runnable> queue = new ArrayDeque<>();
  private boolean scheduled;
  private volatile @Nullable Thread runningOn;

  ListenerDispatcher(Executor executor) {
    this.executor = executor;
  }

  /** Queues {@code callback}; {@code what} names it in the log if it throws. */
  void dispatch(String what, Runnable callback) {
    Runnable guarded =
        () -> {
          try {
            callback.run();
          } catch (RuntimeException | Error e) {
            log.warn("configsync listener failed in {}; syncing goes on", what, e);
          }
        };
    synchronized (lock) {
      queue.add(guarded);
      if (scheduled) {
        return;
      }
      scheduled = true;
    }
    try {
      executor.execute(this::drain);
    } catch (RejectedExecutionException e) {
      synchronized (lock) {
        scheduled = false;
        queue.clear();
      }
      log.debug("listener executor refused a callback ({}); it is shut down", what);
    }
  }

  /** Whether the calling thread is running a callback of this dispatcher right now. */
  boolean onListenerThread() {
    return runningOn == Thread.currentThread();
  }

  private void drain() {
    runningOn = Thread.currentThread();
    try {
      while (true) {
        Runnable next;
        synchronized (lock) {
          next = queue.poll();
          if (next == null) {
            scheduled = false;
            return;
          }
        }
        next.run();
      }
    } finally {
      runningOn = null;
    }
  }
}
