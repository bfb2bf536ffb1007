package dev.configsync.bench;

import java.util.Arrays;

/** Repetition and medians: every timed figure is the median of a few runs after a warm-up. */
final class Timing {
  private Timing() {}

  /** Something timed; returns its own duration in nanoseconds. */
  interface Timed {
    long run() throws Exception;
  }

  /** Runs {@code timed} once to warm up, then {@code repetitions} times; the median in ms. */
  static double medianMillis(int repetitions, Timed timed) throws Exception {
    timed.run();
    double[] ms = new double[repetitions];
    for (int i = 0; i < repetitions; i++) {
      ms[i] = timed.run() / 1e6;
    }
    return median(ms);
  }

  /** The median (the mean of the two middle values for an even count). */
  static double median(double[] values) {
    if (values.length == 0) {
      throw new IllegalArgumentException("no values");
    }
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /** Runs {@code task} for about a second (at least 3 and at most 50 times), to get it compiled. */
  static void warmUp(Runnable task) {
    long end = System.nanoTime() + 1_000_000_000L;
    for (int i = 0; i < 50 && (i < 3 || System.nanoTime() < end); i++) {
      task.run();
    }
  }

  /** Nanoseconds {@code task} takes. */
  static long time(Runnable task) {
    long start = System.nanoTime();
    task.run();
    return System.nanoTime() - start;
  }
}
