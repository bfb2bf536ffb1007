package dev.configsync.cp.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.UsageCount;
import dev.configsync.cp.UsageReport;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

/**
 * A replica's {@link UsageReport} as the JSON it shares in etcd, compact (rows and billing figures
 * as arrays, no field names) and bounded: a report whose JSON would exceed {@code maxBytes} is
 * shared without its rows (billing figures and counters stay exact), their requests counted in
 * {@code rows_over_limit} instead, so that one value never exceeds what etcd takes in a request.
 */
final class UsageJson {
  /** The largest shared report: well below etcd's default request limit (1.5 MiB). */
  static final int MAX_BYTES = 1 << 20;

  private UsageJson() {}

  /** What {@link #write} made of a report. */
  record Written(JsonNode json, boolean rowsLeftOut) {}

  static Written write(UsageReport report, int maxBytes) {
    ObjectNode out = EtcdSession.JSON.createObjectNode();
    out.put("format", 1);
    ArrayNode billing = out.putArray("billing");
    for (UsageReport.Billing b : report.billing()) {
      billing
          .addArray()
          .add(b.nodeId())
          .add(b.day().toString())
          .add(b.apiCalls())
          .add(b.servicesConfigured());
    }
    out.put("accepted", report.batchesAccepted());
    out.put("duplicates", report.duplicatesIgnored());
    out.put("refused", report.batchesRefused());
    ArrayNode rows = out.putArray("rows");
    long rowRequests = 0;
    for (UsageReport.Row r : report.rows()) {
      UsageCount c = r.counts();
      ArrayNode row = rows.addArray().add(r.nodeId()).add(c.service()).add(c.route());
      row.add(c.consumer());
      for (int k = 1; k <= 5; k++) {
        row.add(c.byClass(k));
      }
      rowRequests += c.total();
    }
    out.put("rows_over_limit", report.rowsOverLimit());
    if (out.toString().getBytes(StandardCharsets.UTF_8).length <= maxBytes) {
      return new Written(out, false);
    }
    out.putArray("rows");
    out.put("rows_over_limit", report.rowsOverLimit() + rowRequests);
    return new Written(out, true);
  }

  /**
   * Reads what {@link #write} wrote.
   *
   * @throws IllegalArgumentException when {@code json} is not such a report
   */
  static UsageReport read(JsonNode json) {
    if (json.path("format").asInt() != 1) {
      throw new IllegalArgumentException("not a shared usage report (format 1)");
    }
    List<UsageReport.Row> rows = new ArrayList<>();
    for (JsonNode r : json.path("rows")) {
      rows.add(
          new UsageReport.Row(
              r.path(0).asText(),
              new UsageCount(
                  r.path(1).asText(),
                  r.path(2).asText(),
                  r.path(3).isTextual() ? r.path(3).asText() : null,
                  r.path(4).asLong(),
                  r.path(5).asLong(),
                  r.path(6).asLong(),
                  r.path(7).asLong(),
                  r.path(8).asLong())));
    }
    List<UsageReport.Billing> billing = new ArrayList<>();
    for (JsonNode b : json.path("billing")) {
      billing.add(
          new UsageReport.Billing(
              b.path(0).asText(),
              LocalDate.parse(b.path(1).asText()),
              b.path(2).asLong(),
              b.path(3).asInt()));
    }
    return new UsageReport(
        rows,
        billing,
        json.path("accepted").asLong(),
        json.path("duplicates").asLong(),
        json.path("refused").asLong(),
        json.path("rows_over_limit").asLong());
  }
}
