package dev.configsync.micrometer;

import dev.configsync.CacheState;
import dev.configsync.ConfigRejectedException;
import dev.configsync.LicenseState;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncState;
import dev.configsync.SyncStatus;
import dev.configsync.spi.SyncMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * A data plane client's metrics in a Micrometer {@link MeterRegistry}: give it to the client's
 * builder, which binds it once.
 *
 * <pre>{@code
 * ConfigSyncClient client = ConfigSyncClient.builder()
 *     ...
 *     .metrics(MicrometerSyncMetrics.of(registry))
 *     .build();
 * }</pre>
 *
 * <p>Counters and timers are updated by the client as things happen; gauges read the client's
 * {@link SyncStatus} (which never blocks) when the registry is scraped. Names and tags are listed
 * in {@code docs/observability.md}. One instance serves one client; bind a second client with
 * another instance and a distinguishing tag.
 *
 * <p>Thread-safe.
 */
public final class MicrometerSyncMetrics implements SyncMetrics {
  private final MeterRegistry registry;
  private final Tags tags;
  private final AtomicBoolean bound = new AtomicBoolean();
  private final Counter reconnects;
  private final DistributionSummary payloadSize;
  private final DistributionSummary usageBatchSize;
  private final Counter usageBatchesSent;

  private MicrometerSyncMetrics(MeterRegistry registry, Tags tags) {
    this.registry = registry;
    this.tags = tags;
    this.reconnects =
        Counter.builder("configsync.reconnects")
            .description(
                "Connections to the control plane lost or not opened, each followed by a retry")
            .tags(tags)
            .register(registry);
    this.payloadSize =
        DistributionSummary.builder("configsync.payload.size")
            .description("Compressed size of configuration frames received")
            .baseUnit("bytes")
            .tags(tags)
            .register(registry);
    this.usageBatchSize =
        DistributionSummary.builder("configsync.usage.batch.size")
            .description("Compressed size of usage batches written")
            .baseUnit("bytes")
            .tags(tags)
            .register(registry);
    this.usageBatchesSent =
        Counter.builder("configsync.usage.batches.sent")
            .description("Usage batches written (a batch re-sent after a reconnect counts again)")
            .tags(tags)
            .register(registry);
  }

  /** Metrics for one client in {@code registry}, without extra tags. */
  public static MicrometerSyncMetrics of(MeterRegistry registry) {
    return of(registry, Tags.empty());
  }

  /** Metrics for one client in {@code registry}, every meter carrying {@code tags}. */
  public static MicrometerSyncMetrics of(MeterRegistry registry, Iterable<Tag> tags) {
    return new MicrometerSyncMetrics(
        Objects.requireNonNull(registry, "registry"),
        Tags.of(Objects.requireNonNull(tags, "tags")));
  }

  /**
   * Registers the gauges that read the client's status. Called by the client's builder.
   *
   * @throws IllegalStateException when this instance is already bound to a client
   */
  @Override
  public void bind(Supplier<SyncStatus> status) {
    if (!bound.compareAndSet(false, true)) {
      throw new IllegalStateException(
          "this MicrometerSyncMetrics is bound to a client already; use one instance per client");
    }
    for (SyncState state : SyncState.values()) {
      gauge(
          "configsync.connection.state",
          "1 for the client's current connection state, 0 for the others",
          status,
          s -> s.get().state() == state ? 1 : 0,
          Tags.of("state", lower(state)));
    }
    gauge(
        "configsync.connected",
        "1 while connected to the control plane",
        status,
        s -> s.get().state() == SyncState.CONNECTED ? 1 : 0,
        Tags.empty());
    gauge(
        "configsync.sync.age",
        "Seconds since the control plane last sent anything (NaN before the first contact)",
        status,
        s -> secondsSince(s.get().lastContact()),
        Tags.empty());
    gauge(
        "configsync.config.age",
        "Seconds since the running configuration was applied (NaN when none runs)",
        status,
        s -> secondsSince(s.get().lastApplied()),
        Tags.empty());
    gauge(
        "configsync.serving",
        "1 while the node should serve traffic",
        status,
        s -> s.get().serving() ? 1 : 0,
        Tags.empty());
    for (LicenseState state : LicenseState.values()) {
      gauge(
          "configsync.license.state",
          "1 for the running configuration's license state, 0 for the others",
          status,
          s -> s.get().licenseState() == state ? 1 : 0,
          Tags.of("state", lower(state)));
    }
    gauge(
        "configsync.license.expiry",
        "When the running configuration's license expires, in seconds since the epoch (NaN when"
            + " there is none)",
        status,
        s -> epochSeconds(s.get().licenseExpiresAt()),
        Tags.empty());
    gauge(
        "configsync.cache.stale",
        "1 when a restart would come back on an older configuration (last cache write failed)",
        status,
        s -> s.get().cacheState() == CacheState.STALE ? 1 : 0,
        Tags.empty());
    gauge(
        "configsync.usage.backlog.batches",
        "Usage batches waiting to be sent or acknowledged",
        status,
        s -> s.get().usage().bufferedBatches(),
        Tags.empty());
    gauge(
        "configsync.usage.backlog.records",
        "Requests counted in the usage batches waiting",
        status,
        s -> s.get().usage().bufferedRecords(),
        Tags.empty());
    functionCounter(
        "configsync.usage.lost.records",
        "Counted requests dropped with full usage buffers",
        status,
        s -> s.get().usage().lostRecords());
    functionCounter(
        "configsync.usage.lost.batches",
        "Usage batches dropped with full buffers",
        status,
        s -> s.get().usage().lostBatches());
    functionCounter(
        "configsync.usage.refused.records",
        "usage().record calls refused (bad name or status, or over the key limit)",
        status,
        s -> s.get().usage().refusedRecords());
    functionCounter(
        "configsync.usage.acknowledged.batches",
        "Usage batches the control plane acknowledged",
        status,
        s -> s.get().usage().acknowledgedBatches());
  }

  private void gauge(
      String name,
      String description,
      Supplier<SyncStatus> status,
      ToDoubleFunction<Supplier<SyncStatus>> value,
      Tags extra) {
    Gauge.builder(name, status, value)
        .description(description)
        .tags(tags.and(extra))
        .strongReference(true)
        .register(registry);
  }

  private void functionCounter(
      String name,
      String description,
      Supplier<SyncStatus> status,
      ToDoubleFunction<Supplier<SyncStatus>> value) {
    FunctionCounter.builder(name, status, value)
        .description(description)
        .tags(tags)
        .register(registry);
  }

  private static double secondsSince(@Nullable Instant then) {
    return then == null ? Double.NaN : Duration.between(then, Instant.now()).toMillis() / 1000.0;
  }

  private static double epochSeconds(@Nullable Instant at) {
    return at == null ? Double.NaN : at.toEpochMilli() / 1000.0;
  }

  private static String lower(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }

  @Override
  public void payloadReceived(long bytes) {
    payloadSize.record((double) bytes);
  }

  @Override
  public void applied(SnapshotSource source, Duration took) {
    Tags t = tags.and("source", lower(source));
    Counter.builder("configsync.applies")
        .description("Configurations applied, by source")
        .tags(t)
        .register(registry)
        .increment();
    Timer.builder("configsync.apply.duration")
        .description(
            "From a configuration's arrival to its publication (decode, checks, cache write)")
        .tags(t)
        .register(registry)
        .record(took);
  }

  @Override
  public void rejected(ConfigRejectedException.Reason reason) {
    Counter.builder("configsync.rejects")
        .description("Configurations refused, by reason")
        .tags(tags.and("reason", lower(reason)))
        .register(registry)
        .increment();
  }

  @Override
  public void cacheWrite(Duration took, boolean ok) {
    Timer.builder("configsync.cache.write")
        .description("Durable cache writes, by outcome")
        .tags(tags.and("outcome", ok ? "ok" : "failed"))
        .register(registry)
        .record(took);
  }

  @Override
  public void reconnect() {
    reconnects.increment();
  }

  @Override
  public void usageBatchSent(long bytes) {
    usageBatchesSent.increment();
    usageBatchSize.record((double) bytes);
  }
}
