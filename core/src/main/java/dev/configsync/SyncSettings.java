package dev.configsync;

import dev.configsync.internal.ControlPlanes;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.internal.usage.UsageReporter;
import dev.configsync.spi.BackupStore;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SnapshotStore;
import dev.configsync.spi.SyncMetrics;
import dev.configsync.spi.Transport;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/** Everything the builder decided for a {@link SyncLoop}, grouped by concern. */
record SyncSettings(
    Node node,
    Link link,
    Apply apply,
    Licensing licensing,
    Backups backups,
    Listeners listeners,
    Time time,
    SyncMetrics metrics,
    UsageReporter.Settings usage) {

  /** Who the node says it is. */
  record Node(
      @Nullable UUID id,
      String hostname,
      String version,
      Map<String, String> capabilities,
      Map<String, String> labels) {
    private static final Pattern MAJOR_MINOR = Pattern.compile("(\\d+)\\.(\\d+)");

    /**
     * The key part that keeps backups of one node version apart from another's: major.minor only,
     * without a pre-release or build suffix ({@code 3.10-rc.1} gives {@code 3.10}).
     */
    String backupVersion() {
      Matcher m = MAJOR_MINOR.matcher(version);
      return m.lookingAt() ? m.group(1) + "." + m.group(2) : version;
    }
  }

  /** The configuration stream's connection. */
  record Link(
      ControlPlanes controlPlanes,
      Transport transport,
      Duration heartbeatInterval,
      Duration deadAfter,
      ReconnectBackoff backoff,
      Duration handshakeTimeout,
      boolean reportErrors,
      boolean deltaSync) {}

  /**
   * Where configurations come from and what they must pass before they run.
   *
   * @param journalRecords changes after which the cache's journal is compacted; 0: no journal
   * @param journalFraction journal size, relative to the whole cached payload, after which it is
   *     compacted
   */
  record Apply(
      @Nullable SnapshotStore store,
      @Nullable Path fallbackConfig,
      long maxPayloadBytes,
      long maxInflatedBytes,
      @Nullable ConfigValidator validator,
      Duration cacheWriteTimeout,
      int journalRecords,
      double journalFraction) {}

  /** Licensing: off when {@code verifier} is null. */
  record Licensing(@Nullable LicenseVerifier verifier, Duration warning) {}

  /** Backup export and import. */
  record Backups(
      @Nullable BackupStore exportTo, @Nullable BackupStore importFrom, Duration exportDelay) {}

  /** Who hears of snapshots and events, and on which executor. */
  record Listeners(
      List<Consumer<ConfigSnapshot>> snapshots,
      List<Consumer<SyncEvent>> events,
      ListenerDispatcher dispatcher,
      @Nullable ExecutorService ownedExecutor) {}

  /** Time: the wall clock, the timers, and the timer thread when the client owns it. */
  record Time(Clock clock, Scheduler scheduler, @Nullable AutoCloseable ownedScheduler) {}
}
