package dev.configsync.spring.boot;

import java.time.Duration;

/**
 * The reconnect delay: uniformly random between the two, drawn anew on every attempt.
 *
 * <p>Bound under {@code configsync.reconnect}; part of {@link ConfigSyncProperties}.
 */
public class ReconnectProperties {
  /** The shortest delay before a new connection attempt. */
  private Duration minDelay = Duration.ofSeconds(5);

  /** The longest delay before a new connection attempt. */
  private Duration maxDelay = Duration.ofSeconds(10);

  public Duration getMinDelay() {
    return minDelay;
  }

  public void setMinDelay(Duration minDelay) {
    this.minDelay = minDelay;
  }

  public Duration getMaxDelay() {
    return maxDelay;
  }

  public void setMaxDelay(Duration maxDelay) {
    this.maxDelay = maxDelay;
  }
}
