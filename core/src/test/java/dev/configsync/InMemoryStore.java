package dev.configsync;

import dev.configsync.spi.SnapshotStore;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A {@link SnapshotStore} in memory, with knobs: fail the next write, hold writes on a latch, count
 * writes, and inspect what is held.
 */
final class InMemoryStore implements SnapshotStore {
  private final UUID nodeId;
  private volatile byte @Nullable [] bytes;
  private final AtomicInteger writesStarted = new AtomicInteger();
  private final AtomicInteger writesCompleted = new AtomicInteger();
  private final AtomicBoolean failNextWrite = new AtomicBoolean();
  private volatile @Nullable CountDownLatch writeGate;
  private final List<String> movedAside = new CopyOnWriteArrayList<>();

  InMemoryStore(UUID nodeId) {
    this.nodeId = nodeId;
  }

  // ---- knobs ---------------------------------------------------------------------------------

  /** Puts {@code payload} in the store, as a previous run would have left it. */
  void preload(byte[] payload) {
    bytes = payload.clone();
  }

  /** The next write throws an IOException (and leaves the held bytes as they are). */
  void failNextWrite() {
    failNextWrite.set(true);
  }

  /** Writes from now on wait until {@link #releaseWrites()}. */
  void blockWrites() {
    writeGate = new CountDownLatch(1);
  }

  /** Lets blocked writes (and later ones) through. */
  void releaseWrites() {
    CountDownLatch gate = writeGate;
    writeGate = null;
    if (gate != null) {
      gate.countDown();
    }
  }

  // ---- what the test checks ------------------------------------------------------------------

  /** The bytes held now, or null. */
  byte @Nullable [] bytes() {
    byte[] b = bytes;
    return b == null ? null : b.clone();
  }

  /** Writes that reached the store (blocked, failed or done). */
  int writesStarted() {
    return writesStarted.get();
  }

  /** Writes that completed successfully. */
  int writes() {
    return writesCompleted.get();
  }

  List<String> movedAsideReasons() {
    return movedAside;
  }

  // ---- SnapshotStore -------------------------------------------------------------------------

  @Override
  public Optional<byte[]> read() {
    byte[] b = bytes;
    return b == null ? Optional.empty() : Optional.of(b.clone());
  }

  @Override
  public void write(byte[] payload) throws IOException {
    writesStarted.incrementAndGet();
    CountDownLatch gate = writeGate;
    if (gate != null) {
      try {
        gate.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while blocked", e);
      }
    }
    if (failNextWrite.getAndSet(false)) {
      throw new IOException("disk full (simulated)");
    }
    bytes = payload.clone();
    writesCompleted.incrementAndGet();
  }

  @Override
  public String moveAside(String reason) {
    movedAside.add(reason);
    bytes = null;
    return "memory:config.json.gz.damaged-" + movedAside.size();
  }

  @Override
  public UUID nodeId() {
    return nodeId;
  }

  @Override
  public String describe() {
    return "memory";
  }
}
