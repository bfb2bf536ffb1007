package dev.configsync;

import dev.configsync.internal.ReconnectingLink;
import dev.configsync.spi.SnapshotStore;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes configurations durable in the {@link SnapshotStore} before they run. A configuration that
 * came as a change whose base is exactly what the store holds goes to the store's journal ({@link
 * SnapshotStore#append}: the few hundred bytes of the change, one fsync); anything else is written
 * whole ({@link SnapshotStore#write}). Once the journal holds {@code maxRecords} changes, or
 * changes of more than {@code maxFraction} of the whole payload's size, it is compacted: the newest
 * configuration is encoded whole on the compactor thread and written on the cache-writer thread,
 * which empties the journal. A compaction that comes too late (a newer change was appended while it
 * encoded) is not written, and the next one waits for twice the limits, then three times, and so
 * on. The journal never grows past {@value #HARD_LIMIT_FACTOR} times the limits: past them (a
 * compaction that keeps losing the race with new changes), changes are written whole.
 *
 * <p>Threading: {@link #started}, {@link #persist} and the compaction's write run on the
 * cache-writer thread (one thread: the fields are confined to it); only the encoding runs on the
 * compactor thread, touching no field. See {@code docs/concurrency.md}.
 */
final class CacheJournal {
  private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

  /** The journal may always hold this many bytes, however small the whole payload. */
  static final long MIN_JOURNAL_BYTES = 64 * 1024;

  private static final int HARD_LIMIT_FACTOR = 4;

  private final SnapshotStore store;
  private final int maxRecords;
  private final double maxFraction;
  private final ExecutorService writer;
  private final ExecutorService compactor = SyncLoop.worker("configsync-cache-compactor");

  // ---- confined to the cache-writer thread ---------------------------------------------------
  // The configuration the store holds (payload plus journal), when known exactly; null: unknown,
  // so the next configuration is written whole.
  private @Nullable String storedHash;
  private int records;
  private long bytes;
  private long wholeBytes;
  private boolean compacting;

  /**
   * Compactions since the last whole write that came too late (a newer change was appended while
   * the whole payload was encoded). Each pushes the next one further, so that changes coming faster
   * than a whole payload is encoded (a large configuration changed several times a second) do not
   * start an encoding per change and throw it away; the hard limit still bounds the journal.
   */
  private int late;

  /** What {@link #persist} did: appended a change, or wrote the whole payload; bytes written. */
  record Written(boolean journaled, long bytes) {}

  /**
   * @param writer the cache-writer thread, on which every call but the encoding runs
   * @param maxRecords changes after which the journal is compacted; 0 turns the journal off
   * @param maxFraction journal size, relative to the whole payload, after which it is compacted
   */
  CacheJournal(SnapshotStore store, ExecutorService writer, int maxRecords, double maxFraction) {
    this.store = store;
    this.writer = writer;
    this.maxRecords = maxRecords;
    this.maxFraction = maxFraction;
  }

  /**
   * Start-up found configuration {@code hash} in the store: a payload of {@code payloadBytes} and a
   * journal of {@code journalRecords} changes of {@code journalBytes}. Null hash: what the store
   * holds is not known exactly (no cache, or a journal that was not replayed to its end).
   */
  void started(@Nullable String hash, long payloadBytes, int journalRecords, long journalBytes) {
    storedHash = hash;
    wholeBytes = payloadBytes;
    records = journalRecords;
    bytes = journalBytes;
  }

  /**
   * Makes {@code snapshot} durable: appended as a change when it came as one from what the store
   * holds and the journal has room, else written whole. Cache-writer thread.
   *
   * @throws IOException when the store failed; what it holds is then unknown, so the next
   *     configuration is written whole
   */
  Written persist(ConfigSnapshot snapshot) throws IOException {
    byte[] change = snapshot.change();
    String base = snapshot.deltaBase();
    String held = storedHash;
    storedHash = null; // unknown until the store returns
    if (change != null
        && held != null
        && held.equals(base)
        && records < (long) HARD_LIMIT_FACTOR * maxRecords
        && bytes + change.length <= HARD_LIMIT_FACTOR * journalLimit()
        && store.append(change)) {
      storedHash = snapshot.hash();
      records++;
      bytes += change.length;
      int factor = 1 + late;
      if (records >= (long) maxRecords * factor || bytes >= factor * journalLimit()) {
        compact(snapshot);
      }
      return new Written(true, change.length);
    }
    byte[] whole = snapshot.payload();
    store.write(whole);
    written(snapshot.hash(), whole.length);
    return new Written(false, whole.length);
  }

  private void written(String hash, long payloadBytes) {
    storedHash = hash;
    wholeBytes = payloadBytes;
    records = 0;
    bytes = 0;
    late = 0;
  }

  private long journalLimit() {
    return Math.max(MIN_JOURNAL_BYTES, (long) (maxFraction * wholeBytes));
  }

  /** Starts compacting the journal into {@code newest}, unless a compaction is under way. */
  private void compact(ConfigSnapshot newest) {
    if (compacting) {
      return;
    }
    compacting = true;
    try {
      compactor.execute(
          () -> {
            byte[] whole;
            try {
              whole = newest.payload();
            } catch (RuntimeException | Error e) {
              log.warn(
                  "configsync could not encode configuration {} to compact the cache journal: {}",
                  newest.hash(),
                  ReconnectingLink.describe(e));
              whole = null;
            }
            byte[] encoded = whole;
            try {
              writer.execute(() -> finishCompaction(newest, encoded));
            } catch (RejectedExecutionException closing) {
              // the client is closing: the journal stays, and is replayed at the next start
            }
          });
    } catch (RejectedExecutionException closing) {
      compacting = false;
    }
  }

  /** Cache-writer thread: writes the compacted payload if nothing was appended meanwhile. */
  private void finishCompaction(ConfigSnapshot newest, byte @Nullable [] whole) {
    compacting = false;
    if (whole == null || !newest.hash().equals(storedHash)) {
      // Newer changes were appended meanwhile: writing this one would drop them. A later append
      // starts another compaction, later than this one started.
      late++;
      return;
    }
    storedHash = null;
    long started = System.nanoTime();
    try {
      store.write(whole);
      written(newest.hash(), whole.length);
      log.debug(
          "configsync compacted the cache journal into configuration {} ({} bytes, {})",
          newest.hash(),
          whole.length,
          Duration.ofNanos(System.nanoTime() - started));
    } catch (IOException | RuntimeException e) {
      log.warn(
          "configsync could not compact the cache journal into configuration {} ({}); the next"
              + " configuration is written whole",
          newest.hash(),
          ReconnectingLink.describe(e));
    }
  }

  /** Stops the compactor thread (a compaction under way is abandoned; the journal stays). */
  void stop() {
    compactor.shutdownNow();
  }
}
