package dev.configsync;

import dev.configsync.spi.BackupStore;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A {@link BackupStore} in memory, with knobs: fail the next put or get, hold calls on a latch
 * (interrupts ignored, like a network call that does not notice them), preload a copy; and a record
 * of every call, in order.
 */
final class InMemoryBackupStore implements BackupStore {
  /** One successful {@link #put}. */
  static final class Put {
    private final String version;
    private final byte[] payload;

    Put(String version, byte[] payload) {
      this.version = version;
      this.payload = payload.clone();
    }

    String version() {
      return version;
    }

    byte[] payload() {
      return payload.clone();
    }
  }

  private final Map<String, byte[]> copies = new ConcurrentHashMap<>();
  private final List<Put> puts = new CopyOnWriteArrayList<>();
  private final List<String> gets = new CopyOnWriteArrayList<>();
  private final AtomicInteger putsStarted = new AtomicInteger();
  private final AtomicInteger putsFinished = new AtomicInteger();
  private final AtomicBoolean failNextPut = new AtomicBoolean();
  private final AtomicBoolean failNextGet = new AtomicBoolean();
  private volatile @Nullable CountDownLatch gate;
  private volatile @Nullable Thread lastCaller;

  // ---- knobs ---------------------------------------------------------------------------------

  /** Puts a copy for {@code version}, as another node would have. */
  void preload(String version, byte[] payload) {
    copies.put(version, payload.clone());
  }

  /** The next put throws an IOException and stores nothing. */
  void failNextPut() {
    failNextPut.set(true);
  }

  /** The next get throws an IOException. */
  void failNextGet() {
    failNextGet.set(true);
  }

  /** Puts and gets from now on wait, ignoring interrupts, until {@link #release()}. */
  void block() {
    gate = new CountDownLatch(1);
  }

  /** Lets blocked calls (and later ones) through. */
  void release() {
    CountDownLatch gate = this.gate;
    this.gate = null;
    if (gate != null) {
      gate.countDown();
    }
  }

  // ---- what the test checks ------------------------------------------------------------------

  /** Successful puts, in order. */
  List<Put> puts() {
    return puts;
  }

  /** The versions asked for by {@link #get}, in order. */
  List<String> gets() {
    return gets;
  }

  /** Puts that reached the store (blocked, failed or done). */
  int putsStarted() {
    return putsStarted.get();
  }

  /** The thread of the last put or get, or null. */
  @Nullable Thread lastCaller() {
    return lastCaller;
  }

  /** Puts that returned or threw. */
  int putsFinished() {
    return putsFinished.get();
  }

  // ---- BackupStore ---------------------------------------------------------------------------

  @Override
  public void put(String version, byte[] payload) throws IOException {
    lastCaller = Thread.currentThread();
    putsStarted.incrementAndGet();
    try {
      awaitGate();
      if (failNextPut.getAndSet(false)) {
        throw new IOException("bucket unreachable (simulated)");
      }
      copies.put(version, payload.clone());
      puts.add(new Put(version, payload));
    } finally {
      putsFinished.incrementAndGet();
    }
  }

  @Override
  public Optional<byte[]> get(String version) throws IOException {
    lastCaller = Thread.currentThread();
    gets.add(version);
    awaitGate();
    if (failNextGet.getAndSet(false)) {
      throw new IOException("access denied (simulated)");
    }
    byte[] copy = copies.get(version);
    return copy == null ? Optional.empty() : Optional.of(copy.clone());
  }

  @Override
  public String describe() {
    return "memory-backup";
  }

  private void awaitGate() {
    CountDownLatch latch = gate;
    if (latch != null) {
      awaitUninterruptibly(latch);
    }
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    boolean interrupted = false;
    while (true) {
      try {
        latch.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
