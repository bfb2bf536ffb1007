package dev.configsync.spi;

import dev.configsync.ConfigRejectedException;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncStatus;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Receives a client's measurements, for a metrics library ({@code configsync-metrics-micrometer}
 * implements it). Every method has an empty default, so an implementation overrides what it needs.
 *
 * <p>Threading: methods are called from the client's sync loop and its telemetry context, one call
 * at a time per context; they must return at once (increment a counter, record a timing) and must
 * not call back into the client. An exception thrown here is logged and ignored.
 */
public interface SyncMetrics {
  /** Does nothing. */
  SyncMetrics NONE = new SyncMetrics() {};

  /**
   * Called once, from {@code build()}, with a supplier of the client's current status (never
   * blocks), for gauges such as the connection state, the time since the last contact or the
   * telemetry backlog.
   */
  default void bind(Supplier<SyncStatus> status) {}

  /** A configuration frame of {@code bytes} (compressed) arrived from the control plane. */
  default void payloadReceived(long bytes) {}

  /**
   * A configuration from {@code source} became the running one, {@code took} after it arrived
   * (decoding, checks and the cache write included).
   */
  default void applied(SnapshotSource source, Duration took) {}

  /** A configuration was refused for {@code reason}. */
  default void rejected(ConfigRejectedException.Reason reason) {}

  /** A cache write finished ({@code ok}) or failed, after {@code took}. */
  default void cacheWrite(Duration took, boolean ok) {}

  /** The connection to the control plane was lost or could not be opened; a reconnect follows. */
  default void reconnect() {}

  /** A usage batch of {@code bytes} (compressed) was written to the control plane. */
  default void usageBatchSent(long bytes) {}
}
