package dev.configsync.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs every registered measurement in smoke mode: each must produce one row per configuration size
 * with finite, positive numbers. Whether goals are met is for {@code benchmarks/run}, not for
 * {@code mvn verify} on a shared machine.
 */
class BenchmarkSmokeTest {

  @Test
  void everyMeasurementProducesFinitePositiveRows() throws Exception {
    List<Measurement> all = BenchmarkRunner.all();
    assertThat(all).isNotEmpty();
    assertThat(all.stream().map(Measurement::name)).doesNotHaveDuplicates();
    for (Measurement m : all) {
      List<Result> rows = m.run(Mode.SMOKE);
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
}
