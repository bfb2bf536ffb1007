package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.UsageCount;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The fleet-wide usage of a highly available control plane is the sum of its replicas'. */
class UsageReportSumTest {
  private static final LocalDate DAY = LocalDate.of(2026, 3, 1);

  @Test
  void rowsBillingAndCountersOfEveryReplicaAddUp() {
    // Node n1 moved from replica a to replica b: its rows and its day appear on both.
    UsageReport a =
        new UsageReport(
            List.of(
                new UsageReport.Row("n1", new UsageCount("s", "r", null, 0, 5, 0, 1, 0)),
                new UsageReport.Row("n2", new UsageCount("s", "r", "alice", 0, 2, 0, 0, 0))),
            List.of(
                new UsageReport.Billing("n1", DAY, 6, 3), new UsageReport.Billing("n2", DAY, 2, 3)),
            4,
            1,
            0,
            7);
    UsageReport b =
        new UsageReport(
            List.of(new UsageReport.Row("n1", new UsageCount("s", "r", null, 1, 3, 0, 0, 2))),
            List.of(
                new UsageReport.Billing("n1", DAY, 6, 5),
                new UsageReport.Billing("n1", DAY.plusDays(1), 10, 5)),
            2,
            0,
            1,
            0);

    UsageReport sum = UsageReport.sum(List.of(a, b));

    assertThat(sum.rows())
        .containsExactly(
            new UsageReport.Row("n1", new UsageCount("s", "r", null, 1, 8, 0, 1, 2)),
            new UsageReport.Row("n2", new UsageCount("s", "r", "alice", 0, 2, 0, 0, 0)));
    assertThat(sum.billing())
        .containsExactly(
            new UsageReport.Billing("n1", DAY, 12, 5),
            new UsageReport.Billing("n1", DAY.plusDays(1), 10, 5),
            new UsageReport.Billing("n2", DAY, 2, 3));
    assertThat(sum.apiCalls()).isEqualTo(a.apiCalls() + b.apiCalls());
    assertThat(sum.batchesAccepted()).isEqualTo(6);
    assertThat(sum.duplicatesIgnored()).isEqualTo(1);
    assertThat(sum.batchesRefused()).isEqualTo(1);
    assertThat(sum.rowsOverLimit()).isEqualTo(7);
  }
}
