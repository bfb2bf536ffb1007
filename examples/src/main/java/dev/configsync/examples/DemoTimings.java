package dev.configsync.examples;

import java.time.Duration;

/**
 * The resilience demo's timings, shortened so that the demo takes seconds; the production defaults
 * are 30 s, 45 s, 5-10 s.
 */
final class DemoTimings {
  static final Duration HEARTBEAT = Duration.ofSeconds(1);
  static final Duration DEAD_AFTER = Duration.ofMillis(1500);
  static final Duration RETRY_MIN = Duration.ofMillis(500);
  static final Duration RETRY_MAX = Duration.ofSeconds(1);
  static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(5);

  /** The longest any one expectation is waited for before the demo reports it as failed. */
  static final Duration WAIT = Duration.ofSeconds(10);

  private DemoTimings() {}
}
