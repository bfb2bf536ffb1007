package dev.configsync.cp;

/**
 * Whether a data plane gets the control plane's configuration, and if not, why. The wire names
 * ({@link #wireName()}) are Kong's {@code sync_status} values, so tools written for Kong's {@code
 * GET /clustering/data-planes} read ours too.
 */
public enum DataPlaneSyncStatus {
  /** The node has connected but not yet been checked against a configuration. */
  UNKNOWN("unknown"),
  /** The node is compatible and is sent every configuration. */
  NORMAL("normal"),
  /**
   * The node's version is not compatible: a different major version, or a minor version newer than
   * the control plane's. It is sent nothing.
   */
  VERSION_INCOMPATIBLE("kong_version_incompatible"),
  /** The configuration uses a plugin (capability) the node did not declare. It is withheld. */
  PLUGIN_SET_INCOMPATIBLE("plugin_set_incompatible"),
  /** The node declares a plugin the configuration uses, but with another major version. */
  PLUGIN_VERSION_INCOMPATIBLE("plugin_version_incompatible");

  private final String wireName;

  DataPlaneSyncStatus(String wireName) {
    this.wireName = wireName;
  }

  /** The name used in the admin API, as in Kong: for example {@code plugin_set_incompatible}. */
  public String wireName() {
    return wireName;
  }
}
