package dev.configsync;

/**
 * The connection state of a client. Transitions: {@code NEW -> STARTING -> CONNECTING <->
 * CONNECTED}, {@code CONNECTING/CONNECTED -> WAITING_RETRY -> CONNECTING}, and any state to {@code
 * CLOSED}. The node serves its current configuration in every state but {@code CLOSED}.
 */
public enum SyncState {
  /** Built, not started. */
  NEW,
  /** {@code start()} is loading the cached configuration. */
  STARTING,
  /** A connection attempt is under way. */
  CONNECTING,
  /** Connected to the control plane and exchanging heartbeats. */
  CONNECTED,
  /** The last connection failed or died; the next attempt is scheduled. */
  WAITING_RETRY,
  /** Closed; no threads left running. */
  CLOSED
}
