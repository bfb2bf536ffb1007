package dev.configsync.micrometer;

import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.DataPlaneSyncStatus;
import dev.configsync.cp.PublishedConfig;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

/**
 * A control plane's metrics in a Micrometer registry: {@code new
 * ControlPlaneMetrics(server).bindTo(registry)}. Every meter reads the server when the registry is
 * scraped ({@link ControlPlaneServer#dataPlanes()}, {@link ControlPlaneServer#usage()}), so it
 * costs nothing between scrapes; a scrape copies the node list and the usage aggregates. Needs
 * {@code configsync-control-plane} on the class path. Names are listed in {@code
 * docs/observability.md}.
 */
public final class ControlPlaneMetrics implements MeterBinder {
  private final ControlPlaneServer server;
  private final Tags tags;

  /** Metrics of {@code server}, without extra tags. */
  public ControlPlaneMetrics(ControlPlaneServer server) {
    this(server, Tags.empty());
  }

  /** Metrics of {@code server}, every meter carrying {@code tags}. */
  public ControlPlaneMetrics(ControlPlaneServer server, Iterable<Tag> tags) {
    this.server = Objects.requireNonNull(server, "server");
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    gauge(
        registry,
        "configsync.cp.data_planes.connected",
        "Data planes connected now",
        s -> s.dataPlanes().stream().filter(DataPlaneInfo::connected).count());
    gauge(
        registry,
        "configsync.cp.data_planes.known",
        "Data planes listed",
        s -> s.dataPlanes().size());
    gauge(
        registry,
        "configsync.cp.data_planes.in_sync",
        "Connected data planes that report the current configuration's hash",
        s -> {
          Optional<PublishedConfig> current = s.currentConfig();
          return current.isEmpty()
              ? 0
              : s.dataPlanes().stream()
                  .filter(n -> n.connected() && n.configHash().equals(current.get().hash()))
                  .count();
        });
    gauge(
        registry,
        "configsync.cp.data_planes.incompatible",
        "Data planes withheld configuration (version or plugins)",
        s ->
            s.dataPlanes().stream()
                .filter(
                    n ->
                        n.syncStatus() != DataPlaneSyncStatus.NORMAL
                            && n.syncStatus() != DataPlaneSyncStatus.UNKNOWN)
                .count());
    counter(
        registry,
        "configsync.cp.usage.batches.accepted",
        "Usage batches counted",
        s -> s.usage().batchesAccepted());
    counter(
        registry,
        "configsync.cp.usage.batches.duplicate",
        "Usage batches received again and ignored",
        s -> s.usage().duplicatesIgnored());
    counter(
        registry,
        "configsync.cp.usage.batches.refused",
        "Malformed usage batches refused",
        s -> s.usage().batchesRefused());
    counter(
        registry,
        "configsync.cp.usage.api_calls",
        "Requests reported by all data planes",
        s -> s.usage().apiCalls());
  }

  private void gauge(
      MeterRegistry registry,
      String name,
      String description,
      ToDoubleFunction<ControlPlaneServer> f) {
    Gauge.builder(name, server, f)
        .description(description)
        .tags(tags)
        .strongReference(true)
        .register(registry);
  }

  private void counter(
      MeterRegistry registry,
      String name,
      String description,
      ToDoubleFunction<ControlPlaneServer> f) {
    FunctionCounter.builder(name, server, f).description(description).tags(tags).register(registry);
  }
}
