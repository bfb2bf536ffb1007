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
 * applied. Each repetition, floor and ours, starts after a full collection, so that neither pays
 * for the other's garbage; collection pauses inside the timed window count.
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
      @Nullable Object[] sink = new Object[1];
      double[] floors = new double[mode.repetitions()];
      double[] floorGc = new double[mode.repetitions()];
      Timing.warmUp(() -> sink[0] = Floors.gunzipAndParse(frames[1]));
      for (int i = 0; i < floors.length; i++) {
        byte[] frame = frames[i % 2];
        Floors.usedAfterGc(); // every repetition starts with an empty young generation
        long gc = Floors.gcMillis();
        floors[i] = Timing.time(() -> sink[0] = Floors.gunzipAndParse(frame)) / 1e6;
        floorGc[i] = Floors.gcMillis() - gc;
      }
      double floor = Timing.median(floors);
      sink[0] = null;
      Path dir = Floors.tempDirectory("apply");
      Applies withStore;
      Applies withoutStore;
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
              withStore.total,
              "ms",
              GOAL,
              String.format(
                  Locale.ROOT,
                  "FileSnapshotStore (written and fsynced before listeners, by design): decode and"
                      + " hand-offs %.0f + cache write %.0f ms, GC pauses %.0f ms (floor's %.0f); without a"
                      + " store %.0f ms (ratio %.2f)%s",
                  withStore.applied - withStore.cacheWrite,
                  withStore.cacheWrite,
                  withStore.gc,
                  Timing.median(floorGc),
                  withoutStore.total,
                  withoutStore.total / floor,
                  size < 16 << 20 ? "; goal meant for 16 MB and up, applied here too" : "")));
    }
    return rows;
  }

  /** Medians of a run of applies, in ms: total (onBinary to listener), the client's own figures. */
  private record Applies(double total, double applied, double cacheWrite, double gc) {}

  private static Applies applies(@Nullable Path store, byte[][] frames, int repetitions)
      throws Exception {
    try (DataPlaneNode node = new DataPlaneNode(store)) {
      int next = 0;
      node.apply(frames[next++ % 2]); // the first apply, from empty: not timed
      // Warm-up: at least 2 applies, more while they take under 2 seconds in all (at most 20), so
      // that the small sizes run compiled code too.
      long warmUpEnd = System.nanoTime() + 2_000_000_000L;
      for (int i = 0; i < 20 && (i < 2 || System.nanoTime() < warmUpEnd); i++) {
        node.apply(frames[next++ % 2]);
      }
      double[] total = new double[repetitions];
      double[] applied = new double[repetitions];
      double[] write = new double[repetitions];
      double[] gc = new double[repetitions];
      for (int i = 0; i < repetitions; i++) {
        Floors.usedAfterGc(); // as for the floor: the old configuration is then in the old gen
        long gcBefore = Floors.gcMillis();
        total[i] = node.apply(frames[next++ % 2]) / 1e6;
        gc[i] = Floors.gcMillis() - gcBefore;
        applied[i] = node.lastAppliedNanos() / 1e6;
        write[i] = store == null ? 0 : node.lastCacheWriteNanos() / 1e6;
      }
      return new Applies(
          Timing.median(total), Timing.median(applied), Timing.median(write), Timing.median(gc));
    }
  }
}
