package dev.configsync.bench;

import dev.configsync.ConfigSyncClient;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Start-up from the cache: a client with a {@code FileSnapshotStore} over a cache the product
 * wrote, the real OkHttp transport pointed at a closed port on 127.0.0.1 (no control plane), from
 * {@code start()} to the first snapshot listener call; against the floor of reading the same file,
 * gunzip and Jackson's {@code readTree}. Both read the file from the page cache (it was just
 * written). Both are timed in a warm JVM, each repetition after a full collection.
 */
final class ColdStartMeasurement implements Measurement {
  static final double GOAL = 1.3;

  /**
   * Starts before the timed ones (a new client each, but the same code, to be compiled): 20, or as
   * many as fit in 3 seconds, at least 3.
   */
  private static final int WARM_UP_STARTS = 20;

  private static final long WARM_UP_NANOS = 3_000_000_000L;

  @Override
  public String name() {
    return "coldstart";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    TestPki pki = TestPki.create();
    TlsConfig tls = pki.dataPlaneTls();
    int port = unusedPort();
    List<Result> rows = new ArrayList<>();
    for (int size : mode.configBytes()) {
      Workload w = Workload.of(size);
      Path dir = Floors.tempDirectory("coldstart");
      try {
        FileSnapshotStore.open(dir).write(w.frameA());
        Path file = dir.resolve("config.json.gz");
        @Nullable Object[] sink = new Object[1];
        int repetitions = mode.repetitions();
        double[] floors = new double[repetitions];
        double[] ours = new double[repetitions];
        // Warm-up: the floor for a second, and a few starts, so that both run compiled code.
        Timing.warmUp(
            () -> {
              try {
                sink[0] = Floors.gunzipAndParse(Files.readAllBytes(file));
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
        int warmUps = 0;
        long warmUpEnd = System.nanoTime() + WARM_UP_NANOS;
        while (warmUps < WARM_UP_STARTS && (warmUps < 3 || System.nanoTime() < warmUpEnd)) {
          coldStart(dir, tls, port);
          warmUps++;
        }
        for (int i = 0; i < repetitions; i++) {
          sink[0] = null;
          Floors.usedAfterGc();
          long start = System.nanoTime();
          sink[0] = Floors.gunzipAndParse(Files.readAllBytes(file));
          floors[i] = (System.nanoTime() - start) / 1e6;
          sink[0] = null;
          Floors.usedAfterGc();
          ours[i] = coldStart(dir, tls, port) / 1e6;
        }
        double floor = Timing.median(floors);
        double o = Timing.median(ours);
        rows.add(
            Result.relative(
                "cold start from cache",
                w.describe(),
                "read file + gunzip + readTree",
                floor,
                o,
                "ms",
                GOAL,
                String.format(
                    Locale.ROOT,
                    "start() -> first onSnapshot; FileSnapshotStore, OkHttpTransport to closed"
                        + " port 127.0.0.1:%d; file in page cache; warm JVM (%d warm-up starts)",
                    port,
                    warmUps)));
      } finally {
        Floors.deleteQuietly(dir);
      }
    }
    return rows;
  }

  private static long coldStart(Path dir, TlsConfig tls, int port) throws Exception {
    CountDownLatch applied = new CountDownLatch(1);
    long[] at = new long[1];
    try (ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://127.0.0.1:" + port))
            .transport(OkHttpTransport.create(tls))
            .snapshotStore(FileSnapshotStore.open(dir))
            .maxPayloadBytes(DataPlaneNode.MAX_PAYLOAD_BYTES)
            .usageReporting(false)
            .onSnapshot(
                s -> {
                  at[0] = System.nanoTime();
                  applied.countDown();
                })
            .build()) {
      long start = System.nanoTime();
      client.start();
      if (!applied.await(5, TimeUnit.MINUTES)) {
        throw new IllegalStateException("no snapshot from the cache; status " + client.status());
      }
      return at[0] - start;
    }
  }

  /** A port nothing listens on: bound and released at once. */
  static int unusedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
