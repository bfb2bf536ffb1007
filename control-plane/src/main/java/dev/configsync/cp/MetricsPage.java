package dev.configsync.cp;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The admin API's {@code GET /metrics} page: the control plane's figures in the Prometheus text
 * exposition format (version 0.0.4), written from the server's own counters, so that the control
 * plane library needs no metrics library (see {@code docs/observability.md}). The names follow
 * those {@code ControlPlaneMetrics} gives Micrometer, as Micrometer's Prometheus registry writes
 * them. Built on an admin-read thread at each scrape; reads the server as {@code GET /status} does.
 */
final class MetricsPage {
  /** The content type of the Prometheus text format. */
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final StringBuilder out = new StringBuilder(4096);

  private MetricsPage() {}

  /**
   * The page for {@code server}.
   *
   * @param adminConnections admin connections open now
   * @param adminConnectionsRefused admin connections refused as over the limit since start
   */
  static String write(AdminBackend server, int adminConnections, long adminConnectionsRefused) {
    MetricsPage page = new MetricsPage();
    page.header("configsync_cp_info", "gauge", "Always 1; the control plane's version as a label");
    page.sample("configsync_cp_info", "version", server.version(), 1);
    page.single(
        "configsync_cp_start_time_seconds",
        "gauge",
        "When the control plane started, in seconds since the epoch",
        server.startedAt().toEpochMilli() / 1000.0);

    List<DataPlaneInfo> nodes = server.dataPlanes();
    Optional<PublishedConfig> current = server.currentConfig();
    long connected = 0;
    long inSync = 0;
    long incompatible = 0;
    Map<DataPlaneSyncStatus, Long> byStatus = new EnumMap<>(DataPlaneSyncStatus.class);
    for (DataPlaneSyncStatus s : DataPlaneSyncStatus.values()) {
      byStatus.put(s, 0L);
    }
    for (DataPlaneInfo n : nodes) {
      if (n.syncStatus() != DataPlaneSyncStatus.NORMAL
          && n.syncStatus() != DataPlaneSyncStatus.UNKNOWN) {
        incompatible++;
      }
      if (!n.connected()) {
        continue;
      }
      connected++;
      byStatus.merge(n.syncStatus(), 1L, Long::sum);
      if (current.isPresent() && n.configHash().equals(current.get().hash())) {
        inSync++;
      }
    }
    page.single(
        "configsync_cp_data_planes_known",
        "gauge",
        "Data planes listed by GET /clustering/data-planes (connected or not, not yet forgotten)",
        nodes.size());
    page.single(
        "configsync_cp_data_planes_connected", "gauge", "Data planes connected now", connected);
    page.single(
        "configsync_cp_data_planes_in_sync",
        "gauge",
        "Connected data planes that report the current configuration's hash",
        inSync);
    page.single(
        "configsync_cp_data_planes_incompatible",
        "gauge",
        "Listed data planes withheld configuration (version or plugins incompatible)",
        incompatible);
    page.header(
        "configsync_cp_data_planes_sync_status",
        "gauge",
        "Connected data planes by sync_status (as in GET /clustering/data-planes)");
    byStatus.forEach(
        (s, n) ->
            page.sample("configsync_cp_data_planes_sync_status", "sync_status", s.wireName(), n));

    page.single(
        "configsync_cp_config_present",
        "gauge",
        "1 once a configuration is in force, 0 before the first publish",
        current.isPresent() ? 1 : 0);
    page.single(
        "configsync_cp_config_payload_bytes",
        "gauge",
        "Compressed size of the configuration in force, as sent to data planes (0 when none)",
        current.map(PublishedConfig::payloadBytes).orElse(0));
    if (current.isPresent()) {
      page.single(
          "configsync_cp_config_published_timestamp_seconds",
          "gauge",
          "When the configuration in force was published, in seconds since the epoch",
          current.get().publishedAt().toEpochMilli() / 1000.0);
    }

    PublishStats publishes = server.publishStats();
    page.header(
        "configsync_cp_publishes_total",
        "counter",
        "Publishes that succeeded, by outcome: changed the configuration or found it unchanged");
    page.sample("configsync_cp_publishes_total", "outcome", "changed", publishes.changed());
    page.sample("configsync_cp_publishes_total", "outcome", "unchanged", publishes.unchanged());
    page.header(
        "configsync_cp_publish_failures_total", "counter", "Publishes that failed, by kind");
    for (PublishStats.Failure kind : PublishStats.Failure.values()) {
      page.sample(
          "configsync_cp_publish_failures_total", "kind", kind.label(), publishes.failures(kind));
    }
    page.single(
        "configsync_cp_store_degraded",
        "gauge",
        "1 while the configuration store cannot be written (publishes refused), else 0",
        server.degradedReason().isPresent() ? 1 : 0);

    UsageReport usage = server.usage();
    page.single(
        "configsync_cp_usage_batches_accepted_total",
        "counter",
        "Usage batches counted by this replica",
        usage.batchesAccepted());
    page.single(
        "configsync_cp_usage_batches_duplicate_total",
        "counter",
        "Usage batches received again and ignored by this replica",
        usage.duplicatesIgnored());
    page.single(
        "configsync_cp_usage_batches_refused_total",
        "counter",
        "Malformed usage batches refused by this replica",
        usage.batchesRefused());
    page.single(
        "configsync_cp_usage_api_calls_total",
        "counter",
        "Requests the data planes reported to this replica",
        usage.apiCalls());

    page.single(
        "configsync_cp_admin_connections",
        "gauge",
        "Admin API connections open now (this scrape's included)",
        adminConnections);
    page.single(
        "configsync_cp_admin_connections_refused_total",
        "counter",
        "Admin API connections refused as over maxAdminConnections",
        adminConnectionsRefused);
    return page.out.toString();
  }

  private void header(String name, String type, String help) {
    out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private void single(String name, String type, String help, double value) {
    header(name, type, help);
    out.append(name).append(' ').append(number(value)).append('\n');
  }

  private void single(String name, String type, String help, long value) {
    header(name, type, help);
    out.append(name).append(' ').append(value).append('\n');
  }

  private void sample(String name, String label, String labelValue, long value) {
    sample(name, label, labelValue, Long.toString(value));
  }

  private void sample(String name, String label, String labelValue, String value) {
    out.append(name)
        .append('{')
        .append(label)
        .append("=\"")
        .append(escapeLabel(labelValue))
        .append("\"} ")
        .append(value)
        .append('\n');
  }

  /** Whole numbers without a fraction; NaN and infinities as the format spells them. */
  static String number(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v);
  }

  /** HELP text: backslash and line feed escaped. */
  static String escapeHelp(String s) {
    return s.replace("\\", "\\\\").replace("\n", "\\n");
  }

  /** A label value: backslash, double quote and line feed escaped. */
  static String escapeLabel(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }
}
