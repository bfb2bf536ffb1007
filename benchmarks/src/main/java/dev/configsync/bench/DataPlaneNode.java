package dev.configsync.bench;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.spi.SyncMetrics;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A real {@link ConfigSyncClient} on a {@link LoopbackTransport}, as a gateway embeds it: default
 * settings (listener thread, cache-write timeout, sync loop), a {@link FileSnapshotStore} when a
 * directory is given. The only changes from the defaults: the payload limit is raised to 64 MiB
 * (the 100 MB configurations compress to more than the default 16 MiB) and usage telemetry is off
 * (it has its own connection, which the loopback transport does not serve).
 */
final class DataPlaneNode implements AutoCloseable {
  /** The payload limit the benchmark uses, above the 100 MB configurations' gzip size. */
  static final long MAX_PAYLOAD_BYTES = 64L << 20;

  private final LoopbackTransport transport = new LoopbackTransport();
  private final ConfigSyncClient client;
  private final LinkedBlockingQueue<Long> applied = new LinkedBlockingQueue<>();
  private volatile @Nullable Consumer<ConfigSnapshot> onApply;
  private volatile long lastAppliedNanos;
  private volatile long lastCacheWriteNanos;

  DataPlaneNode(@Nullable Path storeDirectory) throws IOException, InterruptedException {
    CountDownLatch connected = new CountDownLatch(1);
    ConfigSyncClient.Builder builder =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://127.0.0.1:1"))
            .transport(transport)
            .maxPayloadBytes(MAX_PAYLOAD_BYTES)
            .usageReporting(false)
            .metrics(
                new SyncMetrics() {
                  @Override
                  public void applied(SnapshotSource source, Duration took) {
                    lastAppliedNanos = took.toNanos();
                  }

                  @Override
                  public void cacheWrite(Duration took, boolean ok) {
                    lastCacheWriteNanos = took.toNanos();
                  }
                })
            .onSnapshot(
                snapshot -> {
                  long at = System.nanoTime();
                  Consumer<ConfigSnapshot> hook = onApply;
                  if (hook != null) {
                    hook.accept(snapshot);
                  }
                  applied.add(at);
                })
            .onEvent(
                event -> {
                  if (event instanceof SyncEvent.Connected) {
                    connected.countDown();
                  }
                });
    if (storeDirectory != null) {
      builder.snapshotStore(FileSnapshotStore.open(storeDirectory));
    }
    client = builder.build();
    client.start();
    if (!connected.await(30, TimeUnit.SECONDS)) {
      client.close();
      throw new IllegalStateException("the client did not connect to the loopback transport");
    }
  }

  /**
   * Delivers {@code frame} and waits for the snapshot listener; returns the nanoseconds from {@code
   * onBinary} to the listener call. The frame must differ from the running configuration.
   */
  long apply(byte[] frame) throws Exception {
    long sent = transport.deliver(frame);
    Long at = applied.poll(5, TimeUnit.MINUTES);
    if (at == null) {
      throw new IllegalStateException(
          "no snapshot listener call within 5 minutes; status " + client.status());
    }
    return at - sent;
  }

  /**
   * The client's own measure of the last apply (its {@code SyncMetrics.applied}): from handing the
   * payload to the pipeline thread to publishing, cache write included; nanoseconds.
   */
  long lastAppliedNanos() {
    return lastAppliedNanos;
  }

  /** The last cache write's duration as the client measured it ({@code SyncMetrics.cacheWrite}). */
  long lastCacheWriteNanos() {
    return lastCacheWriteNanos;
  }

  /** Runs {@code hook} in the snapshot listener, after the time of the call is taken. */
  void onApply(@Nullable Consumer<ConfigSnapshot> hook) {
    onApply = hook;
  }

  ConfigSyncClient client() {
    return client;
  }

  @Override
  public void close() {
    client.close();
  }
}
