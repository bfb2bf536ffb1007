package dev.configsync.bench.jmh;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;

import dev.configsync.bench.ConfigGenerator;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.internal.Gzip;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code FileSnapshotStore.write} (temporary file, fsync, rename, directory fsync) against writing
 * the same bytes to a new file in the same directory and forcing it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(org.openjdk.jmh.annotations.Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class CacheWriteBenchmark {
  /** Size of the configuration's JSON, in bytes (the payload is its gzip). */
  @Param({"1048576"})
  public int size;

  private byte[] payload = new byte[0];
  private Path dir = Path.of(".");
  private @Nullable Path floorFile;
  private int count;
  private @Nullable FileSnapshotStore store;

  /** Creates the directory and the store. */
  @Setup
  public void setUp() throws IOException {
    payload = Gzip.compress(ConfigGenerator.generate(1, size));
    dir = Files.createTempDirectory("configsync-jmh-cache");
    store = FileSnapshotStore.open(dir);
  }

  /** Removes the last floor file, outside the measurement. */
  @TearDown(Level.Invocation)
  public void deleteFloorFile() throws IOException {
    Path file = floorFile;
    if (file != null) {
      Files.deleteIfExists(file);
      floorFile = null;
    }
  }

  /** Removes the directory. */
  @TearDown
  public void tearDown() throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** The floor. */
  @Benchmark
  public void writeAndForce() throws IOException {
    Path file = dir.resolve("floor-" + count++);
    floorFile = file;
    try (FileChannel channel = FileChannel.open(file, CREATE_NEW, WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(payload);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(true);
    }
  }

  /** Ours. */
  @Benchmark
  public void storeWrite() throws IOException {
    Objects.requireNonNull(store, "setUp ran").write(payload);
  }
}
