package dev.configsync;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * A consistent, immutable picture of a client at one instant. Everything but {@link #usage()} is
 * rebuilt together by the sync loop at each change; {@code usage} is the telemetry context's own
 * consistent picture, taken when {@link ConfigSyncClient#status()} was called. See {@code
 * docs/observability.md}.
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
 * @param reconnects how many times since start the connection was lost, or could not be opened, and
 *     a new attempt was scheduled (one per {@link SyncEvent.Disconnected})
 * @param cacheState what the durable cache holds compared with the running configuration
 * @param lastCacheWrite when the cache was last written successfully, or null
 * @param usage the usage telemetry's backlog, losses and connection
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
    boolean serving,
    long reconnects,
    CacheState cacheState,
    @Nullable Instant lastCacheWrite,
    UsageStatus usage) {

  /** Checks the fields that must be present. */
  public SyncStatus {
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(licenseState, "licenseState");
    Objects.requireNonNull(cacheState, "cacheState");
    Objects.requireNonNull(usage, "usage");
  }

  /**
   * The status as it was before reconnects, cache state and usage were reported: those are set to
   * 0, {@link CacheState#NO_STORE}, null and {@link UsageStatus#OFF}. Kept so that code building a
   * status by hand (tests, fakes) keeps compiling.
   */
  public SyncStatus(
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
    this(
        state,
        nodeId,
        hash,
        source,
        lastContact,
        lastApplied,
        connectAttempts,
        applied,
        rejected,
        lastError,
        licenseState,
        licenseExpiresAt,
        serving,
        0,
        CacheState.NO_STORE,
        null,
        UsageStatus.OFF);
  }

  /** Whether the node runs a configuration (from any source). */
  public boolean hasConfiguration() {
    return hash != null;
  }

  /** This status with {@code usage} in place of its usage part. */
  public SyncStatus withUsage(UsageStatus usage) {
    return new SyncStatus(
        state,
        nodeId,
        hash,
        source,
        lastContact,
        lastApplied,
        connectAttempts,
        applied,
        rejected,
        lastError,
        licenseState,
        licenseExpiresAt,
        serving,
        reconnects,
        cacheState,
        lastCacheWrite,
        usage);
  }
}
