package dev.configsync.bench;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;

import dev.configsync.cache.FileSnapshotStore;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code FileSnapshotStore.write} of a frame against the floor of writing the same bytes to a new
 * file in the same directory and forcing it ({@code FileChannel.force}). The store does more for
 * atomicity: it renames the forced temporary file over {@code config.json.gz} and forces the
 * directory, which is a second journal commit on ext4 and most file systems. fsync times vary a
 * lot, so each figure is the median of three times the mode's repetitions, floor and ours
 * interleaved.
 */
final class CacheWriteMeasurement implements Measurement {
  static final double GOAL = 1.2;

  @Override
  public String name() {
    return "cachewrite";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    List<Result> rows = new ArrayList<>();
    for (int size : mode.configBytes()) {
      Workload w = Workload.of(size);
      byte[] payload = w.frameA();
      Path dir = Floors.tempDirectory("cachewrite");
      try {
        FileSnapshotStore store = FileSnapshotStore.open(dir);
        int runs = 3 * mode.repetitions();
        double[] floor = new double[runs];
        double[] ours = new double[runs];
        floorWrite(dir, payload, -1); // warm-up
        store.write(payload);
        for (int i = 0; i < runs; i++) {
          floor[i] = floorWrite(dir, payload, i) / 1e6;
          long start = System.nanoTime();
          store.write(payload);
          ours[i] = (System.nanoTime() - start) / 1e6;
        }
        double f = Timing.median(floor);
        double o = Timing.median(ours);
        rows.add(
            Result.relative(
                "durable cache write",
                Workload.label(size) + " config (" + Workload.label(payload.length) + " written)",
                "write + fsync to a new file",
                f,
                o,
                "ms",
                GOAL,
                String.format(
                    Locale.ROOT,
                    "ours adds rename + directory fsync (atomic replace: a second journal commit);"
                        + " %s",
                    Files.getFileStore(dir).type())));
      } finally {
        Floors.deleteQuietly(dir);
      }
    }
    return rows;
  }

  /** Writes {@code bytes} to a new file in {@code dir} and forces it; returns nanoseconds. */
  static long floorWrite(Path dir, byte[] bytes, int index) throws Exception {
    Path file = dir.resolve("floor-" + (index + 1) + ".bin");
    long start = System.nanoTime();
    try (FileChannel channel = FileChannel.open(file, CREATE_NEW, WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(true);
    }
    long took = System.nanoTime() - start;
    Files.delete(file);
    return took;
  }
}
