package dev.configsync.bench;

import java.util.List;

/** One group of rows in the table, measured by {@link BenchmarkRunner}. */
public interface Measurement {

  /** A short name for {@code --only} (for example {@code "hash"}). */
  String name();

  /** Runs the measurement at every size {@code mode} names and returns one row per size. */
  List<Result> run(Mode mode) throws Exception;
}
