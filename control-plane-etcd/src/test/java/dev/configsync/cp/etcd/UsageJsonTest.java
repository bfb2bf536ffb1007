package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.UsageCount;
import dev.configsync.cp.UsageReport;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A replica's usage figures survive their trip through etcd, and never exceed a value's bound. */
class UsageJsonTest {
  private static final UsageReport REPORT =
      new UsageReport(
          List.of(
              new UsageReport.Row("n1", new UsageCount("svc", "route", null, 1, 2, 3, 4, 5)),
              new UsageReport.Row("n1", new UsageCount("svc", "route", "bob", 0, 7, 0, 0, 0))),
          List.of(new UsageReport.Billing("n1", LocalDate.of(2026, 3, 1), 22, 4)),
          3,
          1,
          2,
          9);

  @Test
  void aReportReadsBackEqual() {
    UsageJson.Written w = UsageJson.write(REPORT, UsageJson.MAX_BYTES);
    assertThat(w.rowsLeftOut()).isFalse();
    assertThat(UsageJson.read(w.json())).isEqualTo(REPORT);
  }

  @Test
  void rowsBeyondTheBoundAreLeftOutAndCountedOverTheLimitBillingStaysExact() {
    UsageJson.Written w = UsageJson.write(REPORT, 100);
    assertThat(w.rowsLeftOut()).isTrue();
    UsageReport read = UsageJson.read(w.json());
    assertThat(read.rows()).isEmpty();
    assertThat(read.billing()).isEqualTo(REPORT.billing());
    assertThat(read.rowsOverLimit()).isEqualTo(9 + 15 + 7);
    assertThat(read.batchesAccepted()).isEqualTo(3);
  }

  @Test
  void somethingElseIsRefused() {
    assertThatThrownBy(() -> UsageJson.read(EtcdSession.JSON.createObjectNode().put("v", 1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("format 1");
  }
}
