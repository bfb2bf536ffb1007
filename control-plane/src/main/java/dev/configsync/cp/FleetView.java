package dev.configsync.cp;

import java.io.IOException;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a control plane knows of the fleet: its own nodes (the {@link NodeRegistry}) and usage
 * ({@link UsageIngest}), merged with what the other replicas share through a {@link
 * FleetDirectory}, if there is one. Thread-safe; every answer is a consistent copy.
 */
final class FleetView {
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  private final NodeRegistry registry;
  private final UsageIngest usage;
  private final @Nullable FleetDirectory fleet;

  FleetView(NodeRegistry registry, UsageIngest usage, @Nullable FleetDirectory fleet) {
    this.registry = registry;
    this.usage = usage;
    this.fleet = fleet;
  }

  /** Starts sharing this replica's nodes and usage with the others (with a directory). */
  void start() {
    if (fleet != null) {
      fleet.start(registry::snapshot);
      fleet.shareUsage(usage::report);
    }
  }

  /** See {@link ControlPlaneServer#dataPlanes()}. */
  List<DataPlaneInfo> dataPlanes() {
    List<DataPlaneInfo> local = registry.snapshot();
    if (fleet == null) {
      return local;
    }
    Map<String, DataPlaneInfo> merged = new LinkedHashMap<>();
    for (DataPlaneInfo node : local) {
      merged.put(node.id(), node);
    }
    for (DataPlaneInfo node : fleet.remote()) {
      merged.merge(node.id(), node, FleetView::fresher);
    }
    return merged.values().stream()
        .sorted(Comparator.comparing(DataPlaneInfo::hostname).thenComparing(DataPlaneInfo::id))
        .toList();
  }

  private static DataPlaneInfo fresher(DataPlaneInfo a, DataPlaneInfo b) {
    if (a.connected() != b.connected()) {
      return a.connected() ? a : b;
    }
    return b.lastSeen().isAfter(a.lastSeen()) ? b : a;
  }

  /** This replica's usage (see {@link ControlPlaneServer#usage()}). */
  UsageReport usage() {
    return usage.report();
  }

  /** The whole fleet's usage (see {@link ControlPlaneServer#fleetUsage()}). */
  UsageReport fleetUsage() {
    Map<String, UsageReport> replicas = usageByReplica();
    return replicas.isEmpty() ? usage.report() : UsageReport.sum(replicas.values());
  }

  /** Every replica's usage by name, or empty when no fleet directory shares usage. */
  Map<String, UsageReport> usageByReplica() {
    return fleet == null ? Map.of() : fleet.usageByReplica();
  }

  /** Closes the directory, unless it is also the config store (closed with the store then). */
  void close(ConfigStore store) {
    if (fleet != null && fleet != store) {
      try {
        fleet.close();
      } catch (IOException e) {
        log.warn("Closing the fleet directory failed: {}", e.toString());
      }
    }
  }
}
