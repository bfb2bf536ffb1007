package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSnapshot;
import java.lang.ref.Reference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The extra heap an apply needs while the old configuration is still live, against the floor of the
 * retained size of the new configuration's tree (plain Jackson).
 *
 * <p>Method. Heap in use is read only after full collections ({@link Floors#usedAfterGc}), so that
 * it counts live objects, not garbage. The floor is the heap after parsing the new frame with the
 * tree held, minus the heap before. Ours: with the old configuration running (and held by the
 * benchmark, as a gateway's routing table would hold it until its listener swaps), the baseline is
 * taken; then the new frame is delivered while a sampler thread forces a full collection (then
 * waits 10 ms, or three times as long as the collection took, whichever is longer) and records the
 * heap in use after it, and the snapshot listener takes a last sample while both configurations are
 * live. Ours is the largest sample minus the baseline: the peak of live extra heap, as sampled (the
 * collections slow the apply down, which only gives the sampler more chances). Median of up to
 * three applies.
 */
final class PeakHeapMeasurement implements Measurement {
  static final double GOAL = 2.0;

  @Override
  public String name() {
    return "heap";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    List<Result> rows = new ArrayList<>();
    int repetitions = Math.min(mode.repetitions(), 3);
    for (int size : mode.configBytes()) {
      Workload w = Workload.of(size);
      byte[][] frames = {w.frameA(), w.frameB()};
      double[] floors = new double[repetitions];
      for (int i = 0; i < repetitions; i++) {
        long before = Floors.usedAfterGc();
        JsonNode tree = Floors.gunzipAndParse(frames[(i + 1) % 2]);
        try {
          floors[i] = (Floors.usedAfterGc() - before) / 1048576.0;
        } finally {
          Reference.reachabilityFence(tree);
        }
      }
      double[] ours = new double[repetitions];
      int[] samples = new int[repetitions];
      Path dir = Floors.tempDirectory("heap");
      try (DataPlaneNode node = new DataPlaneNode(dir)) {
        node.apply(frames[0]);
        for (int i = 0; i < repetitions; i++) {
          ConfigSnapshot old = node.client().current().orElseThrow();
          long baseline = Floors.usedAfterGc();
          AtomicLong peak = new AtomicLong(baseline);
          AtomicBoolean done = new AtomicBoolean();
          int[] count = {0};
          node.onApply(s -> peak.accumulateAndGet(Floors.usedAfterGc(), Math::max));
          Thread sampler =
              new Thread(
                  () -> {
                    while (!done.get()) {
                      long gcStart = System.nanoTime();
                      peak.accumulateAndGet(Floors.usedAfterGc(), Math::max);
                      count[0]++;
                      // Let the apply run at least three times as long as the collections take.
                      long pauseMillis =
                          Math.max(10, 3 * (System.nanoTime() - gcStart) / 1_000_000);
                      try {
                        Thread.sleep(pauseMillis);
                      } catch (InterruptedException e) {
                        return;
                      }
                    }
                  },
                  "bench-heap-sampler");
          sampler.setDaemon(true);
          sampler.start();
          try {
            node.apply(frames[(i + 1) % 2]);
          } finally {
            done.set(true);
            sampler.join();
            node.onApply(null);
            Reference.reachabilityFence(old);
          }
          ours[i] = (peak.get() - baseline) / 1048576.0;
          samples[i] = count[0] + 1;
        }
      } finally {
        Floors.deleteQuietly(dir);
      }
      double floor = Timing.median(floors);
      double o = Timing.median(ours);
      rows.add(
          Result.relative(
              "peak extra heap while applying",
              w.describe(),
              "retained size of the new tree (plain Jackson)",
              floor,
              o,
              "MiB",
              GOAL,
              String.format(
                  Locale.ROOT,
                  "live heap after full GCs, sampled during the apply (%d samples) and in the"
                      + " listener; FileSnapshotStore; the snapshot also keeps the %s frame",
                  samples[0],
                  Workload.label(w.frameA().length))));
    }
    return rows;
  }
}
