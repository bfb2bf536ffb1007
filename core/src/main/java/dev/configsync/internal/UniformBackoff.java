package dev.configsync.internal;

import io.github.resilience4j.core.IntervalFunction;
import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * The protocol's reconnect delay: uniformly random between a minimum and a maximum, drawn anew on
 * every attempt, whatever the attempt number. Not API.
 *
 * <p>It is a Resilience4j {@link IntervalFunction}, adapted to the public {@code ReconnectBackoff}
 * by {@code ReconnectBackoff.fromIntervalFunction}. Resilience4j's own randomized functions draw
 * from {@code Math.random()}, which tests cannot control; this one takes its random source as an
 * argument.
 */
public final class UniformBackoff implements IntervalFunction {
  private static final long serialVersionUID = 1L;

  private final long minMillis;
  private final long maxMillis;
  private final transient RandomGenerator random;

  /** A backoff uniform in [{@code min}, {@code max}] (milliseconds resolution). */
  public UniformBackoff(Duration min, Duration max, RandomGenerator random) {
    if (min.isNegative() || max.compareTo(min) < 0) {
      throw new IllegalArgumentException(
          "reconnect delay needs 0 <= min <= max, got min=" + min + " max=" + max);
    }
    this.minMillis = min.toMillis();
    this.maxMillis = max.toMillis();
    this.random = random;
  }

  @Override
  public Long apply(Integer attempt) {
    return minMillis == maxMillis ? minMillis : random.nextLong(minMillis, maxMillis + 1);
  }
}
