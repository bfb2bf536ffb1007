package dev.configsync;

import io.github.resilience4j.core.IntervalFunction;
import java.time.Duration;
import java.util.Objects;

/**
 * How long a client waits before its next connection attempt (to the control plane, and for usage
 * telemetry), given the attempt number: counted from 1 since the last connection that delivered
 * data. Retries never stop, whatever the function returns; a negative delay counts as zero. Set it
 * with {@link ConfigSyncClient.Builder#reconnectBackoff}; the default is {@link
 * ConfigSyncClient.Builder#reconnectDelay uniformly random in 5 to 10 s}.
 *
 * <p>Called on the client's own threads, one call at a time per stream (the configuration stream
 * and the usage stream may call it at the same time): an implementation with state must be
 * thread-safe. It must be quick and must not block.
 *
 * <p>Its own small interface rather than Resilience4j's {@code IntervalFunction}, so that the
 * public API does not tie users to a library version for one setting; {@link #fromIntervalFunction}
 * adapts any Resilience4j function (see {@code docs/configuration.md}).
 */
@FunctionalInterface
public interface ReconnectBackoff {
  /**
   * The delay before attempt {@code attempt}.
   *
   * @param attempt the attempt number, 1 or more, counted since the last connection that delivered
   *     data
   * @return the delay; never null
   */
  Duration delay(int attempt);

  /**
   * Adapts a Resilience4j {@link IntervalFunction} (milliseconds for an attempt number), for
   * example {@code IntervalFunction.ofExponentialRandomBackoff(1000, 2.0, 60_000)}.
   *
   * @param function the interval function; called as {@link #delay} would be
   * @return a backoff returning {@code function}'s milliseconds as a duration
   */
  static ReconnectBackoff fromIntervalFunction(IntervalFunction function) {
    Objects.requireNonNull(function, "function");
    return attempt -> Duration.ofMillis(function.apply(attempt));
  }
}
