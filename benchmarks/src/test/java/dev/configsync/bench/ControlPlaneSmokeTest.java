package dev.configsync.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs every control-plane measurement in {@link Mode#SMOKE}: each must produce one row per size
 * with finite, positive numbers. Whether the goals are met is the benchmark's business, not this
 * test's. The rows come from {@link SmokeRuns}: {@link BenchmarkSmokeTest} checks the same runs.
 */
class ControlPlaneSmokeTest {

  @Test
  void publishToListenerMeasuresOneRowPerConfigSize() throws Exception {
    check(SmokeRuns.of(new PublishToListener()), Mode.SMOKE.configBytes().size(), false);
  }

  @Test
  void fanOutMeasuresOneRowPerFleetSize() throws Exception {
    check(SmokeRuns.of(new FanOut()), Mode.SMOKE.fleetSizes().size(), false);
  }

  @Test
  void idleConnectionsMeasuresHeapInAChildJvm() throws Exception {
    check(SmokeRuns.of(new IdleConnections()), Mode.SMOKE.idleConnections().size(), true);
  }

  @Test
  void reconnectStormMeasuresTheBusiestBucket() throws Exception {
    List<Result> rows = SmokeRuns.of(new ReconnectStorm());
    check(rows, Mode.SMOKE.fleetSizes().size(), false);
    // Nobody can beat a perfectly even spread: the busiest bucket holds at least the mean.
    assertThat(rows).allSatisfy(r -> assertThat(r.ours()).isGreaterThanOrEqualTo(1.0));
  }

  @Test
  void aUniformSpreadOfFewNodesIsUnevenByChanceAlone() {
    double[] ten = ReconnectStorm.uniformBusiest(10, 1000, new java.util.Random(1));
    double[] thousand = ReconnectStorm.uniformBusiest(1000, 1000, new java.util.Random(1));
    assertThat(ten[0]).isGreaterThan(1.5);
    assertThat(thousand[0]).isBetween(1.0, 1.2);
    assertThat(ten[1]).isGreaterThanOrEqualTo(ten[0]);
  }

  private static void check(List<Result> rows, int expected, boolean absolute) {
    assertThat(rows).hasSize(expected);
    for (Result r : rows) {
      assertThat(r.absolute()).as(r.measure()).isEqualTo(absolute);
      assertThat(r.ours()).as(r.measure() + " ours").isFinite().isPositive();
      if (!absolute) {
        assertThat(r.floor()).as(r.measure() + " floor").isFinite().isPositive();
        assertThat(r.ratio()).as(r.measure() + " ratio").isFinite().isPositive();
      }
      assertThat(r.note()).as(r.measure() + " note").isNotBlank();
    }
  }
}
