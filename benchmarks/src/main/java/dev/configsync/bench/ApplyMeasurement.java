package dev.configsync.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * From a {@code reconfigure} frame handed to a started client ({@code Transport.Listener.onBinary})
 * to the call of its snapshot listener, against the floor of gunzip and Jackson's {@code readTree}
 * of the same frame. The client is set up as a gateway uses it: a {@code FileSnapshotStore}, whose
 * durable write comes before the listeners by design (see docs/architecture.md), so the figure
 * includes a write and two fsyncs that the floor has not; the note gives the figure without a store
 * too. Consecutive frames alternate between two configurations of the same size, so every one is
 * applied.
 */
final class ApplyMeasurement implements Measurement {
  static final double GOAL = 1.5;

  @Override
  public String name() {
    return "apply";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    List<Result> rows = new ArrayList<>();
    for (int size : mode.configBytes()) {
      Workload w = Workload.of(size);
      byte[][] frames = {w.frameA(), w.frameB()};
      int[] next = {0};
      Object[] sink = new Object[1];
      double floor =
          Timing.medianMillis(
              mode.repetitions(),
              () ->
                  Timing.time(
                      () -> sink[0] = Floors.gunzipAndParse(frames[next[0]++ % frames.length])));
      Path dir = Floors.tempDirectory("apply");
      double withStore;
      double withoutStore;
      try {
        withStore = applies(dir, frames, mode.repetitions());
        withoutStore = applies(null, frames, mode.repetitions());
      } finally {
        Floors.deleteQuietly(dir);
      }
      rows.add(
          Result.relative(
              "apply: frame -> listener",
              w.describe(),
              "gunzip + Jackson readTree",
              floor,
              withStore,
              "ms",
              GOAL,
              String.format(
                  Locale.ROOT,
                  "with FileSnapshotStore (written and fsynced before listeners, by design);"
                      + " without a store %.1f ms (ratio %.2f)%s",
                  withoutStore,
                  withoutStore / floor,
                  size < 16 << 20 ? "; goal set for 16 MB and up, applied here too" : "")));
    }
    return rows;
  }

  private static double applies(@Nullable Path store, byte[][] frames, int repetitions)
      throws Exception {
    try (DataPlaneNode node = new DataPlaneNode(store)) {
      int[] next = {0};
      node.apply(frames[next[0]++ % 2]); // the first apply, from empty: not timed
      return Timing.medianMillis(repetitions, () -> node.apply(frames[next[0]++ % 2]));
    }
  }
}
