package dev.configsync.cp;

import dev.configsync.UsageCount;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the control plane has aggregated from the usage its data planes sent, since it started (see
 * {@link ControlPlaneServer#usage()}), or, for the replicas of a highly available control plane,
 * the sum of what every replica counted ({@link ControlPlaneServer#fleetUsage()}; {@code GET
 * /usage} on the admin API). Immutable.
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

  /**
   * The sum of {@code reports} (one per replica): rows of the same node, service, route and
   * consumer add up, as do billing figures of the same node and day ({@code servicesConfigured}
   * takes the largest), and every counter.
   */
  static UsageReport sum(Collection<UsageReport> reports) {
    if (reports.size() == 1) {
      return reports.iterator().next();
    }
    Map<RowKey, long[]> rows = new LinkedHashMap<>();
    Map<List<Object>, long[]> days = new LinkedHashMap<>();
    long accepted = 0;
    long duplicates = 0;
    long refused = 0;
    long overLimit = 0;
    for (UsageReport r : reports) {
      for (Row row : r.rows) {
        UsageCount c = row.counts();
        long[] sum =
            rows.computeIfAbsent(
                new RowKey(
                    row.nodeId(),
                    c.service(),
                    c.route(),
                    Objects.requireNonNullElse(c.consumer(), "")),
                k -> new long[5]);
        for (int k = 0; k < 5; k++) {
          sum[k] += c.byClass(k + 1);
        }
      }
      for (Billing b : r.billing) {
        long[] sum = days.computeIfAbsent(List.of(b.nodeId(), b.day()), k -> new long[2]);
        sum[0] += b.apiCalls();
        sum[1] = Math.max(sum[1], b.servicesConfigured());
      }
      accepted += r.batchesAccepted;
      duplicates += r.duplicatesIgnored;
      refused += r.batchesRefused;
      overLimit += r.rowsOverLimit;
    }
    List<Row> rowList = sortedRows(rows);
    List<Billing> billing = new ArrayList<>(days.size());
    days.forEach(
        (k, v) ->
            billing.add(new Billing((String) k.get(0), (LocalDate) k.get(1), v[0], (int) v[1])));
    billing.sort(BILLING_ORDER);
    return new UsageReport(rowList, billing, accepted, duplicates, refused, overLimit);
  }

  /** The key of a row; an empty consumer stands for none. */
  record RowKey(String node, String service, String route, String consumer) {}

  /** Rows from counts by status class (1xx to 5xx) per key, sorted as a report's rows are. */
  static List<Row> sortedRows(Map<RowKey, long[]> counts) {
    List<Row> rowList = new ArrayList<>(counts.size());
    counts.forEach(
        (k, v) ->
            rowList.add(
                new Row(
                    k.node(),
                    new UsageCount(
                        k.service(),
                        k.route(),
                        k.consumer().isEmpty() ? null : k.consumer(),
                        v[0],
                        v[1],
                        v[2],
                        v[3],
                        v[4]))));
    rowList.sort(ROW_ORDER);
    return rowList;
  }

  static final Comparator<Row> ROW_ORDER =
      Comparator.comparing(Row::nodeId)
          .thenComparing(r -> r.counts().service())
          .thenComparing(r -> r.counts().route())
          .thenComparing(r -> Objects.requireNonNullElse(r.counts().consumer(), ""));

  static final Comparator<Billing> BILLING_ORDER =
      Comparator.comparing(Billing::nodeId).thenComparing(Billing::day);

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
