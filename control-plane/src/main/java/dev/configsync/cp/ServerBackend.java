package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.delta.IndexedConfig;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** The {@link AdminBackend} of a {@link ControlPlaneServer}, over its collaborators. */
final class ServerBackend implements AdminBackend {
  private final ConfigPublisher publisher;
  private final FleetView fleet;
  private final Outlet outlet;
  private final TlsReloader tls;
  private final String version;
  private final Instant startedAt;

  ServerBackend(
      ConfigPublisher publisher,
      FleetView fleet,
      Outlet outlet,
      TlsReloader tls,
      String version,
      Instant startedAt) {
    this.publisher = publisher;
    this.fleet = fleet;
    this.outlet = outlet;
    this.tls = tls;
    this.version = version;
    this.startedAt = startedAt;
  }

  @Override
  public PublishResult publish(
      JsonNode config, @Nullable String expectedHash, byte @Nullable [] json) {
    return publisher.publish(config, expectedHash, json);
  }

  @Override
  public PublishResult publishEdit(EntityEdits.Edited edit, String baseHash) {
    return publisher.publishEdit(edit, baseHash);
  }

  @Override
  public Optional<IndexedConfig> currentIndexed() {
    return publisher.currentIndexed();
  }

  @Override
  public Outlet.Tally reach(String hash, JsonNode config) {
    Published latest = outlet.latest();
    return outlet.tally(
        latest != null && latest.hash().equals(hash)
            ? latest.plugins()
            : Compatibility.pluginsUsed(config));
  }

  @Override
  public PublishStats publishStats() {
    return publisher.stats();
  }

  @Override
  public Optional<PublishedConfig> currentConfig() {
    return publisher.current();
  }

  @Override
  public List<ConfigVersion> history(int limit) {
    return publisher.history(limit);
  }

  @Override
  public List<DataPlaneInfo> dataPlanes() {
    return fleet.dataPlanes();
  }

  @Override
  public UsageReport usage() {
    return fleet.usage();
  }

  @Override
  public Map<String, UsageReport> usageByReplica() {
    return fleet.usageByReplica();
  }

  @Override
  public Optional<String> degradedReason() {
    return publisher.degradedReason();
  }

  @Override
  public String version() {
    return version;
  }

  @Override
  public Instant startedAt() {
    return startedAt;
  }

  @Override
  public ServerTls.Mode tlsMode() {
    return tls.current().mode();
  }

  @Override
  public String storeDescription() {
    return publisher.storeDescription();
  }

  @Override
  public boolean isClosed() {
    return publisher.isClosed();
  }
}
