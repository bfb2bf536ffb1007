package dev.configsync.bench;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The rows of each measurement's {@link Mode#SMOKE} run, measured once per test JVM: {@link
 * BenchmarkSmokeTest} runs every measurement and {@link ControlPlaneSmokeTest} checks more of the
 * control plane's rows, and neither should measure again what the other has measured. A run that
 * throws is not kept: the next test to ask runs it again and sees the failure itself.
 */
final class SmokeRuns {
  private static final Map<String, List<Result>> ROWS = new ConcurrentHashMap<>();

  private SmokeRuns() {}

  /** The rows of {@code measurement} in smoke mode, measured by the first caller. */
  static synchronized List<Result> of(Measurement measurement) throws Exception {
    List<Result> rows = ROWS.get(measurement.name());
    if (rows == null) {
      rows = List.copyOf(measurement.run(Mode.SMOKE));
      ROWS.put(measurement.name(), rows);
    }
    return rows;
  }
}
