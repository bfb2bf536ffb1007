package dev.configsync;

/** The state of a client's usage telemetry connection ({@code /v1/ingest}). */
public enum UsageLink {
  /** Usage reporting is turned off ({@code Builder.usageReporting(false)}). */
  OFF,
  /** No connection: nothing has been recorded yet, or nothing is waiting to be sent. */
  IDLE,
  /** A connection attempt is under way. */
  CONNECTING,
  /**
   * Connected, waiting (at most {@code usageHelloTimeout}) for the control plane to say whether it
   * acknowledges batches.
   */
  DETECTING,
  /** Connected to a control plane that acknowledges every batch (configsync's). */
  ACKNOWLEDGED,
  /**
   * Connected to a control plane that does not acknowledge batches (Kong's): batches are dropped
   * once written, as Kong's own data planes do.
   */
  FIRE_AND_FORGET,
  /** The connection failed or died; a new attempt follows after the reconnect delay. */
  WAITING_RETRY,
  /** The client is closed. */
  CLOSED
}
