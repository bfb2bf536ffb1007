package dev.configsync.cp;

import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the store's journal of entity edits short ({@link ConfigStore#saveChange}): counts the
 * changes saved ahead of their whole frame, says when the journal is due (every {@link
 * #COMPACT_CHANGES} changes, or once they weigh a quarter of the whole frame and at least {@link
 * #MIN_JOURNAL_BYTES}), and saves an edit's whole frame in the store once it is made, which empties
 * the journal.
 *
 * <p>Threading: the counters are guarded by the publisher's lock ({@code publishLock}), which the
 * callers of {@link #changeSaved} and {@link #wholeSaved} hold. The whole save runs on this class's
 * own thread ({@code configsync-cp-compact}), under that lock; never on the encoder thread, which a
 * whole publish waits for while it holds the lock.
 */
final class JournalCompactor {
  // The facade's logger: operators filter on it, and what it logs is the server's doing.
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  /**
   * After this many entity edits saved as changes, the whole frame of the one in force is made and
   * saved whole, which empties the store's journal (as a data plane compacts its cache's journal).
   */
  static final int COMPACT_CHANGES = 64;

  /**
   * The journal may always hold this many bytes of changes, however small the whole frame (as a
   * data plane's cache journal may). Without it, on a small configuration, where one change weighs
   * more than a quarter of the whole frame, every edit made the journal due: a whole save (about
   * five fsyncs, under the publish lock, which the next edit waits for) and a new journal (two
   * more) per edit, where the change alone costs one. Replaying 64 KiB of changes at a start costs
   * little.
   */
  static final long MIN_JOURNAL_BYTES = 64 * 1024;

  private final ConfigStore store;
  private final Object publishLock;
  private final Supplier<@Nullable Published> latest;
  private final BooleanSupplier closed;
  private final ExecutorService thread = ConfigPublisher.idleThread("configsync-cp-compact");
  // Changes saved ahead of their whole frame since the store last saved a whole payload, and their
  // bytes (guarded by publishLock).
  private int changes;
  private long bytes;

  /**
   * Whole frames made for the journal since its last whole save that came too late: a newer edit
   * was in force when each was made (guarded by publishLock). Each pushes the next compaction
   * further, so that a stream of edits faster than a whole frame is made (a large configuration
   * edited several times a second) does not make and throw away a whole frame per edit.
   */
  private int late;

  /**
   * @param latest the configuration in force (read under {@code publishLock})
   * @param closed whether the control plane is closing
   */
  JournalCompactor(
      ConfigStore store,
      Object publishLock,
      Supplier<@Nullable Published> latest,
      BooleanSupplier closed) {
    this.store = store;
    this.publishLock = publishLock;
    this.latest = latest;
    this.closed = closed;
  }

  /**
   * A change of {@code changeBytes} was saved ahead of its whole frame, whose size is about {@code
   * frameSize} (publishLock held). Returns whether the journal is due ({@link #COMPACT_CHANGES}
   * changes, or more bytes of them than a quarter of {@code frameSize} and than {@link
   * #MIN_JOURNAL_BYTES}; twice that after one whole frame came too late, three times after two, and
   * so on): the caller then asks for the whole frame, which {@link #saveWhenMade} saves.
   */
  boolean changeSaved(int changeBytes, int frameSize) {
    changes++;
    bytes += changeBytes;
    int factor = 1 + late;
    return changes >= COMPACT_CHANGES * factor
        || bytes > factor * Math.max(MIN_JOURNAL_BYTES, (long) frameSize / 4);
  }

  /**
   * For tests: how many whole frames came too late since the last whole save (publishLock held).
   */
  int lateFrames() {
    return late;
  }

  /** A whole payload was saved: the store's journal is empty (publishLock held). */
  void wholeSaved() {
    changes = 0;
    bytes = 0;
    late = 0;
  }

  /**
   * The whole frame of the edit published {@code sequence}-th is made (any thread): it is saved on
   * this class's thread, when it is still the configuration in force and changes were saved ahead
   * since the last whole save. A frame made after a newer edit is not saved: the journal holds that
   * edit too, which a whole save of this one would drop; the newer one's frame compacts it.
   */
  void saveWhenMade(byte[] frame, long sequence) {
    try {
      thread.execute(() -> save(frame, sequence));
    } catch (RejectedExecutionException e) {
      // closed: the journal is replayed at the next start
    }
  }

  private void save(byte[] frame, long sequence) {
    synchronized (publishLock) {
      Published inForce = latest.get();
      if (closed.getAsBoolean() || changes == 0 || inForce == null) {
        return;
      }
      if (inForce.sequence() != sequence) {
        late++; // a newer edit came while it was made: the next attempt comes later
        return;
      }
      try {
        store.save(frame, inForce.hash());
        wholeSaved();
      } catch (IOException | RuntimeException e) {
        // The changes are durable: a restart replays them over the whole payload saved before.
        log.warn(
            "Configuration {} is saved as changes, but saving its whole payload in {} failed ({});"
                + " it is tried again with a later frame",
            inForce.hash(),
            store.describe(),
            e.toString());
      }
    }
  }

  /** Lets the thread end once idle (a save under way finishes). */
  void shutdown() {
    thread.shutdown();
  }
}
