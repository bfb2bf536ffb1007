package dev.configsync;

import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * Something that happened to a client, delivered in order to the listeners registered with {@link
 * ConfigSyncClient.Builder#onEvent}. Events are plain data: switch over them.
 *
 * <p>Events never carry configuration content, keys or certificates.
 *
 * <p>Events come in the order they happened, and their {@link #time()}s in that order (the one
 * exception is {@link UsageLost}, produced by the telemetry thread). A new configuration that
 * changes the license state causes its {@link LicenseExpiring}, {@link LicenseExpired} or {@link
 * LicenseRenewed} just before its {@link SnapshotApplied}, with the same time.
 */
public sealed interface SyncEvent {

  /** When the event happened, by the client's clock. */
  Instant time();

  /** A connection attempt started ({@code attempt} counts from 1 since the last success). */
  record Connecting(Instant time, URI endpoint, int attempt) implements SyncEvent {}

  /** The connection is open and {@code basic_info} was sent. */
  record Connected(Instant time, URI endpoint) implements SyncEvent {}

  /**
   * The connection failed or died; the next attempt starts after {@code retryIn}. The node keeps
   * serving its current configuration.
   */
  record Disconnected(Instant time, String reason, Duration retryIn) implements SyncEvent {}

  /**
   * A configuration is now the one the node runs: listeners have been handed it, and (unless a
   * {@link CacheWriteFailed} for the same hash says otherwise) it is on disk.
   *
   * @param delta whether it came as a change ({@code reconfigure_delta}) rather than whole
   * @param entitiesChanged how many entities were added, updated or removed ({@link
   *     ConfigChanges#entityCount()}) when already known, as it is for a change; null when it is
   *     not computed yet (a whole configuration: {@link ConfigSnapshot#changes()} computes it)
   */
  record SnapshotApplied(
      Instant time,
      String hash,
      SnapshotSource source,
      @Nullable String previousHash,
      boolean delta,
      @Nullable Integer entitiesChanged)
      implements SyncEvent {

    /** A configuration that came whole, its changes not computed yet. */
    public SnapshotApplied(
        Instant time, String hash, SnapshotSource source, @Nullable String previousHash) {
      this(time, hash, source, previousHash, false, null);
    }
  }

  /** A configuration was refused; the node keeps the one it runs. */
  record SnapshotRejected(
      Instant time,
      @Nullable String hash,
      SnapshotSource source,
      ConfigRejectedException.Reason reason,
      String message)
      implements SyncEvent {}

  /**
   * The configuration with this hash is durably in the cache. {@code bytes} is what was written:
   * the whole payload, or, for a configuration that came as a change and went to the cache's
   * journal, the change (see {@link ConfigSyncClient.Builder#cacheJournal}).
   */
  record CacheWritten(Instant time, String hash, long bytes) implements SyncEvent {}

  /**
   * The configuration with this hash could not be cached (or not within the time limit) and was
   * applied anyway: a restart now would come back on an older configuration.
   */
  record CacheWriteFailed(Instant time, String hash, String reason) implements SyncEvent {}

  /**
   * The cached configuration found at start-up was damaged and has been moved aside ({@code
   * movedTo}); start-up goes on with the next source.
   */
  record CacheDamaged(Instant time, String reason, String movedTo) implements SyncEvent {}

  /** Start-up found no configuration anywhere: the node serves nothing until one arrives. */
  record StartedEmpty(Instant time, String reason) implements SyncEvent {}

  /**
   * A configuration loaded by hand ({@link ConfigSyncClient#loadManual}) was replaced by the
   * control plane's, as designed: the control plane is the source of truth once it is reachable.
   */
  record ManualConfigReplaced(Instant time, String manualHash, String hash) implements SyncEvent {}

  /**
   * The license expires soon ({@code expiresAt}); the node keeps serving until then. Emitted once
   * per license, when it enters the warning window.
   */
  record LicenseExpiring(Instant time, Instant expiresAt) implements SyncEvent {}

  /**
   * The license has expired: the node stops serving ({@link ConfigSyncClient#isServing()} is false)
   * until a configuration with a renewed license arrives.
   */
  record LicenseExpired(Instant time, Instant expiresAt) implements SyncEvent {}

  /** A valid license replaced an expired one: the node serves again. */
  record LicenseRenewed(Instant time, Instant expiresAt) implements SyncEvent {}

  /** The running configuration was copied to the backup store ({@code location}). */
  record BackupExported(Instant time, String hash, String location) implements SyncEvent {}

  /**
   * A backup export or import failed ({@code operation} is {@code export} or {@code import}); the
   * node goes on without it.
   */
  record BackupFailed(Instant time, String operation, @Nullable String hash, String reason)
      implements SyncEvent {}

  /**
   * The usage buffer was full, so its oldest batches were dropped: {@code records} counted requests
   * ({@code batches} batches) will never reach the control plane. Totals since start are in {@link
   * UsageStatus#lostRecords()}.
   */
  record UsageLost(Instant time, long batches, long records) implements SyncEvent {}

  /** The client was closed. The last event. */
  record Stopped(Instant time) implements SyncEvent {}
}
