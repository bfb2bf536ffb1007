package dev.configsync.bench;

import java.util.Objects;

/**
 * One row of the benchmark table: what we measured, against which floor, and whether it met its
 * goal.
 *
 * <p>A relative result compares {@code ours} with {@code floor}, both in {@code unit} and measured
 * in the same run on the same data; it passes when {@code ours / floor <= goal}. An absolute result
 * (no floor exists, such as heap per idle connection) passes when {@code ours <= goal}, {@code
 * goal} then being in {@code unit}; its {@code floor} is {@link Double#NaN}.
 *
 * @param measure what is measured, as the issue names it (for example {@code "config hash"})
 * @param workload the data it ran on (for example {@code "16 MB"} or {@code "1000 nodes"})
 * @param floorName what the floor is (for example {@code "MD5 of the JSON bytes"})
 * @param floor the floor's value in {@code unit}, or NaN for an absolute result
 * @param ours our value in {@code unit}
 * @param unit the unit of {@code floor} and {@code ours} (for example {@code "ms"})
 * @param goal the largest ratio (relative) or value (absolute) that passes
 * @param absolute whether {@code goal} bounds {@code ours} itself rather than the ratio
 * @param note context: absolute numbers, what dominates, why a goal is out of reach
 */
public record Result(
    String measure,
    String workload,
    String floorName,
    double floor,
    double ours,
    String unit,
    double goal,
    boolean absolute,
    String note) {

  /** Checks the arguments. */
  public Result {
    Objects.requireNonNull(measure, "measure");
    Objects.requireNonNull(workload, "workload");
    Objects.requireNonNull(floorName, "floorName");
    Objects.requireNonNull(unit, "unit");
    Objects.requireNonNull(note, "note");
    if (!absolute && !(floor > 0)) {
      throw new IllegalArgumentException(measure + ": a relative result needs a positive floor");
    }
  }

  /** A result judged by the ratio {@code ours / floor}. */
  public static Result relative(
      String measure,
      String workload,
      String floorName,
      double floor,
      double ours,
      String unit,
      double goal,
      String note) {
    return new Result(measure, workload, floorName, floor, ours, unit, goal, false, note);
  }

  /** A result judged by {@code ours} itself. */
  public static Result absolute(
      String measure, String workload, double ours, String unit, double goal, String note) {
    return new Result(measure, workload, "(absolute)", Double.NaN, ours, unit, goal, true, note);
  }

  /** {@code ours / floor}, or NaN for an absolute result. */
  public double ratio() {
    return absolute ? Double.NaN : ours / floor;
  }

  /** Whether the goal is met. */
  public boolean pass() {
    return absolute ? ours <= goal : ratio() <= goal;
  }
}
