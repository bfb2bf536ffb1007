package dev.configsync.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs every registered measurement in smoke mode: each must produce one row per configuration size
 * with finite, positive numbers. Whether goals are met is for {@code benchmarks/run}, not for
 * {@code mvn verify} on a shared machine. One test per measurement, so that a failure names it and
 * the report shows what each one costs; the rows come from {@link SmokeRuns}, so that a measurement
 * {@link ControlPlaneSmokeTest} has already run is not run again.
 */
class BenchmarkSmokeTest {

  @Test
  void measurementsHaveDistinctNames() {
    List<Measurement> all = BenchmarkRunner.all();
    assertThat(all).isNotEmpty();
    assertThat(all.stream().map(Measurement::name)).doesNotHaveDuplicates();
  }

  @TestFactory
  Stream<DynamicTest> everyMeasurementProducesFinitePositiveRows() {
    return BenchmarkRunner.all().stream()
        .map(m -> DynamicTest.dynamicTest(m.name(), () -> check(m)));
  }

  private static void check(Measurement m) throws Exception {
    List<Result> rows = SmokeRuns.of(m);
    assertThat(rows).as(m.name()).isNotEmpty();
    for (Result r : rows) {
      assertThat(r.ours()).as(m.name() + " ours: " + r).isFinite().isPositive();
      assertThat(r.goal()).as(m.name() + " goal: " + r).isFinite().isPositive();
      if (!r.absolute()) {
        assertThat(r.floor()).as(m.name() + " floor: " + r).isFinite().isPositive();
        assertThat(r.ratio()).as(m.name() + " ratio: " + r).isFinite().isPositive();
      }
      assertThat(BenchmarkRunner.table(List.of(r))).contains(r.measure());
    }
  }
}
