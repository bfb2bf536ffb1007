package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * What the node reports about itself.
 *
 * <p>Bound under {@code configsync.node}; part of {@link ConfigSyncProperties}.
 */
public class NodeProperties {
  /** The node identity; default: the one kept in the cache directory (or a new one). */
  private @Nullable UUID id;

  /** The host name reported; default: this machine's. */
  private @Nullable String hostname;

  /** The version reported, for the control plane's compatibility check. */
  private String version = ConfigSyncClient.VERSION;

  public @Nullable UUID getId() {
    return id;
  }

  public void setId(@Nullable UUID id) {
    this.id = id;
  }

  public @Nullable String getHostname() {
    return hostname;
  }

  public void setHostname(@Nullable String hostname) {
    this.hostname = hostname;
  }

  public String getVersion() {
    return version;
  }

  public void setVersion(String version) {
    this.version = version;
  }
}
