package dev.configsync;

import dev.configsync.spi.Scheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A {@link Scheduler} whose time moves only when a test calls {@link #advance}. Due tasks run on
 * the thread that calls {@code advance}, in order of due time (ties in order of scheduling),
 * including tasks that other tasks schedule while time advances. Thread-safe: the client's worker
 * threads may schedule and cancel tasks at any time.
 */
final class ManualScheduler implements Scheduler {
  private final Object lock = new Object();
  private final PriorityQueue<Task> queue =
      new PriorityQueue<>(
          (a, b) -> a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
  private final List<Duration> scheduledDelays = new ArrayList<>();
  private long now = 1_000_000_000L; // an arbitrary origin: nanoTime is not wall-clock time
  private long nextSeq;

  @Override
  public long nanoTime() {
    synchronized (lock) {
      return now;
    }
  }

  @Override
  public Cancellable schedule(Runnable task, Duration delay) {
    synchronized (lock) {
      scheduledDelays.add(delay);
      Task t = new Task(task, now + Math.max(0, delay.toNanos()), nextSeq++);
      queue.add(t);
      return () -> {
        synchronized (lock) {
          queue.remove(t);
        }
      };
    }
  }

  /** Moves time forward by {@code amount}, running every task that falls due on the way. */
  void advance(Duration amount) {
    long target;
    synchronized (lock) {
      target = now + amount.toNanos();
    }
    while (true) {
      Task next;
      synchronized (lock) {
        next = queue.peek();
        if (next == null || next.due > target) {
          now = target;
          return;
        }
        queue.poll();
        now = Math.max(now, next.due);
      }
      next.task.run(); // outside the lock: tasks schedule further tasks
    }
  }

  /** Tasks scheduled and neither run nor cancelled. */
  int pendingCount() {
    synchronized (lock) {
      return queue.size();
    }
  }

  /** How many tasks were ever scheduled with exactly this delay (cancelled or not). */
  long scheduledCount(Duration delay) {
    synchronized (lock) {
      return scheduledDelays.stream().filter(delay::equals).count();
    }
  }

  private static final class Task {
    final Runnable task;
    final long due;
    final long seq;

    Task(Runnable task, long due, long seq) {
      this.task = task;
      this.due = due;
      this.seq = seq;
    }
  }
}
