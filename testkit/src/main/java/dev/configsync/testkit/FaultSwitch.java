package dev.configsync.testkit;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * The faults one {@link FaultProxy}'s connections obey, the armed cut, and the waits of its pumps
 * for a fault to change. A change applies at once to every connection: pumps read {@link
 * #current()} on every turn and are woken from their waits. Thread-safe.
 */
final class FaultSwitch {
  private final Object lock = new Object();
  private volatile ProxyFaults faults = ProxyFaults.NONE;
  private long changes; // guarded by lock
  private volatile boolean closed;

  /** Bytes still allowed toward clients before the armed cut; negative when none is armed. */
  private final AtomicLong cutBudget = new AtomicLong(-1);

  ProxyFaults current() {
    return faults;
  }

  /** Whether the proxy is closing: every connection and pump ends. */
  boolean closed() {
    return closed;
  }

  /** Marks the proxy closed; {@link #wakeAll()} then ends the waits. */
  void markClosed() {
    closed = true;
  }

  void update(UnaryOperator<ProxyFaults> change) {
    synchronized (lock) {
      faults = change.apply(faults);
      changes++;
      lock.notifyAll(); // pumps waiting for a black hole to end, or for a due time
    }
  }

  /** Wakes every wait, to look at a connection that ended or a proxy that closed. */
  void wakeAll() {
    synchronized (lock) {
      lock.notifyAll();
    }
  }

  /** Waits until a fault changes, {@code link} ends, the proxy closes, or {@code nanos} pass. */
  void awaitChange(ProxyConnection link, long nanos) {
    long deadline = System.nanoTime() + nanos;
    synchronized (lock) {
      long seen = changes;
      try {
        while (changes == seen && !link.ended() && !closed) {
          if (nanos == Long.MAX_VALUE) {
            lock.wait();
          } else {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
              return;
            }
            TimeUnit.NANOSECONDS.timedWait(lock, left);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        link.reset();
      }
    }
  }

  /** Waits while a black hole is in force and {@code link} is alive. */
  void awaitBlackholeEnd(ProxyConnection link) {
    while (faults.blackhole() && !link.ended() && !closed) {
      awaitChange(link, Long.MAX_VALUE);
    }
  }

  /** Arms the one-shot cut after {@code bytes} more bytes toward clients. */
  void armCut(long bytes) {
    cutBudget.set(bytes);
  }

  void disarmCut() {
    cutBudget.set(-1);
  }

  /** How many of {@code n} bytes may go before an armed cut; fewer than n means cut now. */
  int cutAllowance(int n) {
    while (true) {
      long budget = cutBudget.get();
      if (budget < 0) {
        return n;
      }
      if (budget >= n) {
        if (cutBudget.compareAndSet(budget, budget - n)) {
          return n;
        }
      } else if (cutBudget.compareAndSet(budget, -1)) {
        return (int) budget;
      }
    }
  }
}
