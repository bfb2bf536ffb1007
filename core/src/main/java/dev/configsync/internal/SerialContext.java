package dev.configsync.internal;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks one at a time, in submission order, on whichever thread submits them: the first thread
 * to find the context idle drains the queue, including tasks that others add meanwhile. State
 * touched only from tasks of one context needs no locks (the model is grpc-java's
 * SynchronizationContext). Tasks must be short and must not block. Not API.
 */
public final class SerialContext implements Executor {
  private static final Logger log = LoggerFactory.getLogger(SerialContext.class);

  private final Queue<Runnable> queue = new ConcurrentLinkedQueue<>();
  private final AtomicReference<@Nullable Thread> drainer = new AtomicReference<>();

  /** Adds {@code task} and runs the queue unless another thread is already running it. */
  @Override
  public void execute(Runnable task) {
    queue.add(task);
    drain();
  }

  /**
   * Adds {@code task} and waits until it has run (or thrown). Must not be called from a task of
   * this context, which would wait for itself. An interrupt ends the wait early, with the interrupt
   * flag set again.
   */
  public void executeAndWait(Runnable task) {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    execute(
        () -> {
          try {
            task.run();
          } finally {
            done.countDown();
          }
        });
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Whether the calling thread is the one running this context's tasks right now. */
  public boolean inContext() {
    return drainer.get() == Thread.currentThread();
  }

  private void drain() {
    do {
      if (!drainer.compareAndSet(null, Thread.currentThread())) {
        return;
      }
      try {
        Runnable task;
        while ((task = queue.poll()) != null) {
          try {
            task.run();
          } catch (RuntimeException | Error e) {
            // A bug in a task must not wedge the loop: log it and go on with the next.
            log.error("configsync internal task failed; please report this as a bug", e);
          }
        }
      } finally {
        drainer.set(null);
      }
      // A task added between the last poll and the release would otherwise wait for the next one.
    } while (!queue.isEmpty());
  }
}
