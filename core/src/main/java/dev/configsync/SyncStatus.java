package dev.configsync;

import java.time.Instant;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * A consistent, immutable picture of a client at one instant.
 *
 * @param state the connection state
 * @param nodeId this node's identity, as sent to the control plane
 * @param hash the hash of the running configuration, or null when the node runs none
 * @param source where the running configuration came from, or null when the node runs none
 * @param lastContact when the control plane last sent anything (a pong or a message), or null
 * @param lastApplied when the running configuration was applied, or null
 * @param connectAttempts connection attempts since start
 * @param applied configurations applied since start (from any source)
 * @param rejected configurations refused since start
 * @param lastError the last connection or configuration error, or null
 * @param licenseState the state of the running configuration's license ({@code NONE} when licensing
 *     is off)
 * @param licenseExpiresAt when that license expires, or null
 * @param serving whether the node should serve traffic: false once closed, or when the license has
 *     expired
 */
public record SyncStatus(
    SyncState state,
    UUID nodeId,
    @Nullable String hash,
    @Nullable SnapshotSource source,
    @Nullable Instant lastContact,
    @Nullable Instant lastApplied,
    long connectAttempts,
    long applied,
    long rejected,
    @Nullable String lastError,
    LicenseState licenseState,
    @Nullable Instant licenseExpiresAt,
    boolean serving) {

  /** Whether the node runs a configuration (from any source). */
  public boolean hasConfiguration() {
    return hash != null;
  }
}
