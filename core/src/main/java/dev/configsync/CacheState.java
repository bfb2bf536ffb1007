package dev.configsync;

/** What the node's durable cache holds compared with what the node runs. See {@link SyncStatus}. */
public enum CacheState {
  /** No {@code SnapshotStore} is configured: a restart forgets the configuration. */
  NO_STORE,
  /**
   * The cache holds no configuration the node has run (nothing cached yet, or the node runs a
   * fallback configuration, which is never cached).
   */
  EMPTY,
  /** The cache holds the running configuration: a restart comes back on it. */
  CURRENT,
  /**
   * The last cache write failed or did not finish in time: a restart would come back on an older
   * configuration (see {@link SyncEvent.CacheWriteFailed}).
   */
  STALE
}
