package dev.configsync;

/** Where the configuration a node runs came from. */
public enum SnapshotSource {
  /** Pushed by the control plane over the live connection. */
  CONTROL_PLANE,
  /** Read at start-up from the node's own cache ({@code config.json.gz}). */
  CACHE,
  /** The fallback declarative file, used when there was no valid cache. */
  FALLBACK,
  /** A copy from the shared backup store, for a new node started during an outage. */
  BACKUP,
  /** Loaded by an operator while the node was disconnected. */
  MANUAL
}
