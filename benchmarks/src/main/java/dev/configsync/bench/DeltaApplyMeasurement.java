package dev.configsync.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Issue 17's node-side goals for a one-entity change, on a real client ({@link DataPlaneNode}, a
 * {@code FileSnapshotStore}, the loopback transport): a {@code reconfigure_delta} frame that
 * changes one route, from {@code onBinary} to the snapshot listener, against the MD5 of the whole
 * configuration's JSON (goal 1.0 x); and the bytes the JVM's threads allocate for it, against the
 * retained size of the whole configuration's tree (goal 1 %). Sizes of 16 MB and up (16 MB in quick
 * mode, 16 and 100 MB in full mode; the smoke size in smoke mode).
 *
 * <p>Until the node journals deltas, each one rewrites the whole {@code config.json.gz}: the notes
 * give the client's own cache-write time and the same apply without a store, which is what a
 * journal can bring the figure down to. Re-run with {@code benchmarks/run --only delta}.
 */
final class DeltaApplyMeasurement implements Measurement {
  static final double TIME_GOAL = 1.0;
  static final double ALLOCATION_GOAL = 0.01;

  /** Deltas timed per repetition count: they are short, so more of them. */
  private static final int DELTAS_PER_REPETITION = 7;

  @Override
  public String name() {
    return "delta";
  }

  static List<Integer> sizes(Mode mode) {
    List<Integer> sizes = new ArrayList<>();
    for (int size : mode.configBytes()) {
      if (mode == Mode.SMOKE || size >= 16 << 20) {
        sizes.add(size);
      }
    }
    return sizes;
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    List<Result> rows = new ArrayList<>();
    List<Result> allocationRows = new ArrayList<>();
    for (int size : sizes(mode)) {
      Workload w = Workload.of(size);
      DeltaWorkload d = DeltaWorkload.of(w.json());
      byte[] json = w.json();
      int n = mode.repetitions() * DELTAS_PER_REPETITION;
      double floor = Floors.md5Millis(json, n);
      @Nullable Object[] sink = new Object[1];
      // The whole tree's retained size, as a plain Jackson tree (the heap row's floor). Small
      // configurations (smoke mode) are read several times over, so that the heap's own noise
      // (other threads, earlier measurements' connections) cannot swamp, or even cancel, the size.
      int copies = (int) Math.max(1, Math.min(64, (64L << 20) / (8L * json.length)));
      @Nullable Object[] trees = new Object[copies];
      long before = Floors.usedAfterGc();
      for (int i = 0; i < copies; i++) {
        trees[i] = Workload.PLAIN.readTree(json);
      }
      long treeBytes = (Floors.usedAfterGc() - before) / copies;
      sink[0] = trees;
      sink[0] = null;
      if (treeBytes <= 0) {
        throw new IllegalStateException(
            "the retained size of the tree could not be measured (" + treeBytes + " bytes)");
      }
      Path dir = Floors.tempDirectory("delta");
      Deltas withStore;
      Deltas withoutStore;
      try {
        withStore = deltas(dir, w, d, n);
        withoutStore = deltas(null, w, d, n);
      } finally {
        Floors.deleteQuietly(dir);
      }
      rows.add(
          Result.relative(
              "one-entity delta: frame -> listener",
              w.describe(),
              "MD5 of the whole configuration's JSON",
              floor,
              withStore.millis,
              "ms",
              TIME_GOAL,
              String.format(
                  Locale.ROOT,
                  "reconfigure_delta of %d bytes (one route upserted) to a client with a"
                      + " FileSnapshotStore; of it the cache write %s ms (the change appended to"
                      + " config.journal and fdatasynced; the whole config.json.gz, %s, is"
                      + " written again by compaction every 64 changes by default, in the"
                      + " background); without a store %s ms (ratio %.2f); median of %d deltas",
                  d.toChanged.length,
                  CpRig.fmt(withStore.cacheWriteMillis),
                  CpRig.size(w.frameA().length),
                  CpRig.fmt(withoutStore.millis),
                  withoutStore.millis / floor,
                  n)));
      allocationRows.add(
          Result.relative(
              "bytes allocated on the node per one-entity delta",
              w.describe(),
              "retained size of the whole configuration's tree",
              treeBytes / 1048576.0,
              withStore.allocated / 1048576.0,
              "MiB",
              ALLOCATION_GOAL,
              String.format(
                  Locale.ROOT,
                  "sum over every live thread of ThreadMXBean allocated bytes, onBinary to the"
                      + " listener (client threads: reader, loop, pipeline, cache writer,"
                      + " listener); with the journal append; without a store %s"
                      + " MiB (%.3f %% of the tree); median of %d deltas",
                  CpRig.fmt(withoutStore.allocated / 1048576.0),
                  100.0 * withoutStore.allocated / treeBytes,
                  n)));
    }
    rows.addAll(allocationRows);
    return rows;
  }

  /** Medians over a run of deltas: time (ms), the client's cache write (ms), bytes allocated. */
  private record Deltas(double millis, double cacheWriteMillis, double allocated) {}

  private static Deltas deltas(@Nullable Path store, Workload w, DeltaWorkload d, int n)
      throws Exception {
    try (DataPlaneNode node = new DataPlaneNode(store)) {
      node.apply(w.frameA()); // the base, whole
      byte[][] frames = {d.toChanged, d.toOriginal};
      int next = 0;
      long warmUpEnd = System.nanoTime() + 2_000_000_000L;
      // As the apply row: at least 2, more while they take under 2 s in all, at most 20.
      for (int i = 0; i < 20 && (i < 2 || System.nanoTime() < warmUpEnd); i++) {
        node.apply(frames[next++ % 2]);
      }
      double[] millis = new double[n];
      double[] writes = new double[n];
      double[] allocated = new double[n];
      Floors.usedAfterGc();
      for (int i = 0; i < n; i++) {
        long a0 = Floors.allocatedBytes();
        millis[i] = node.apply(frames[next++ % 2]) / 1e6;
        allocated[i] = Floors.allocatedBytes() - a0;
        writes[i] = store == null ? 0 : node.lastCacheWriteNanos() / 1e6;
      }
      if (next % 2 != 0) {
        node.apply(frames[next % 2]); // leave the base running (not needed, but tidy)
      }
      return new Deltas(Timing.median(millis), Timing.median(writes), Timing.median(allocated));
    }
  }
}
