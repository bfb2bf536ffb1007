package dev.configsync.cp;

import dev.configsync.UsageCount;
import java.time.LocalDate;
import java.util.List;

/**
 * What the control plane has aggregated from the usage its data planes sent, since it started (see
 * {@link ControlPlaneServer#usage()}; {@code GET /usage} on the admin API). Immutable.
 *
 * @param rows requests per node, service, route and consumer, by status class; sorted by node,
 *     service, route, consumer
 * @param billing billing figures per node and UTC day; sorted by node then day
 * @param batchesAccepted batches counted
 * @param duplicatesIgnored batches received again (after a reconnect) and not counted again
 * @param batchesRefused malformed batches refused (the connection was closed)
 * @param rowsOverLimit requests counted in the billing figures but not in {@code rows}, because
 *     {@code rows} reached its limit (100,000 keys)
 */
public record UsageReport(
    List<Row> rows,
    List<Billing> billing,
    long batchesAccepted,
    long duplicatesIgnored,
    long batchesRefused,
    long rowsOverLimit) {

  /** Copies the lists. */
  public UsageReport {
    rows = List.copyOf(rows);
    billing = List.copyOf(billing);
  }

  /** Requests counted for {@code nodeId}, all periods. */
  public long apiCalls(String nodeId) {
    return billing.stream()
        .filter(b -> b.nodeId().equals(nodeId))
        .mapToLong(Billing::apiCalls)
        .sum();
  }

  /** Requests counted for every node, all periods. */
  public long apiCalls() {
    return billing.stream().mapToLong(Billing::apiCalls).sum();
  }

  /**
   * Requests one node sent for one (service, route, consumer).
   *
   * @param nodeId the node's id
   * @param counts the requests, by status class
   */
  public record Row(String nodeId, UsageCount counts) {}

  /**
   * Billing figures of one node for one UTC day (the day each batch's window started).
   *
   * @param nodeId the node's id
   * @param day the UTC day
   * @param apiCalls requests the node counted that day
   * @param servicesConfigured the most services ({@code config_table.services} entries) in the
   *     configuration the node reported running when its batches of that day arrived; 0 when it ran
   *     none the control plane knows
   */
  public record Billing(String nodeId, LocalDate day, long apiCalls, int servicesConfigured) {}
}
