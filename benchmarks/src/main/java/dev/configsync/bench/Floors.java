package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/** The floors' operations and the small tools the data plane measurements share. */
final class Floors {
  private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

  private Floors() {}

  /** gunzip and Jackson's {@code readTree} with its defaults: the least an apply has to do. */
  static JsonNode gunzipAndParse(byte[] gzip) {
    try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(gzip), 64 * 1024)) {
      return Workload.PLAIN.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Heap in use after full collections: {@link System#gc()} (a full, stop-the-world collection
   * under G1 unless {@code -XX:+ExplicitGCInvokesConcurrent}) until two readings agree within 1%,
   * at most five times.
   */
  static long usedAfterGc() {
    long previous = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      long used = MEMORY.getHeapMemoryUsage().getUsed();
      if (Math.abs(previous - used) <= used / 100) {
        return used;
      }
      previous = used;
    }
    return previous;
  }

  /** Milliseconds all collectors have spent collecting since the JVM started. */
  static long gcMillis() {
    long total = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      total += Math.max(0, gc.getCollectionTime());
    }
    return total;
  }

  /**
   * The median time, in ms, of {@code n} MD5 digests of {@code bytes}, after a warm-up: the floor
   * the issue-17 rows compare a one-entity change with.
   */
  static double md5Millis(byte[] bytes, int n) throws java.security.NoSuchAlgorithmException {
    java.security.MessageDigest md5 = java.security.MessageDigest.getInstance("MD5");
    byte[][] sink = new byte[1][];
    Timing.warmUp(() -> sink[0] = md5.digest(bytes));
    double[] millis = new double[n];
    for (int i = 0; i < n; i++) {
      millis[i] = Timing.time(() -> sink[0] = md5.digest(bytes)) / 1e6;
    }
    return Timing.median(millis);
  }

  /**
   * Bytes allocated so far by every live thread of this JVM ({@code
   * com.sun.management.ThreadMXBean#getThreadAllocatedBytes}); the difference of two readings is
   * what the threads alive at both allocated in between (a thread that started and ended in between
   * is not counted).
   */
  static long allocatedBytes() {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long total = 0;
    for (long a : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
      total += Math.max(0, a);
    }
    return total;
  }

  /** Heap in use now, garbage included. */
  static long usedNow() {
    return MEMORY.getHeapMemoryUsage().getUsed();
  }

  /** A new temporary directory, in {@code java.io.tmpdir}. */
  static Path tempDirectory(String prefix) throws IOException {
    return Files.createTempDirectory("configsync-bench-" + prefix);
  }

  /** Deletes {@code dir} and everything in it; failures are ignored (it is temporary). */
  static void deleteQuietly(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException ignored) {
                  // temporary; the OS cleans up eventually
                }
              });
    } catch (IOException ignored) {
      // as above
    }
  }
}
