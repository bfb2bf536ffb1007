package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** When {@link JournalCompactor} says the store's journal of entity edits is due. */
class JournalCompactorTest {
  private final JournalCompactor compactor =
      new JournalCompactor(new InMemoryConfigStore(), new Object(), () -> null, () -> false);

  @AfterEach
  void stop() {
    compactor.shutdown();
  }

  /** How many changes of {@code changeBytes} were saved when the journal fell due. */
  private int changesUntilDue(int changeBytes, int frameSize) {
    return changesUntilDue(compactor, changeBytes, frameSize);
  }

  private static int changesUntilDue(JournalCompactor compactor, int changeBytes, int frameSize) {
    for (int n = 1; n <= 16 * JournalCompactor.COMPACT_CHANGES; n++) {
      if (compactor.changeSaved(changeBytes, frameSize)) {
        return n;
      }
    }
    throw new AssertionError("never due");
  }

  @Test
  void onASmallConfigurationOneChangeDoesNotMakeTheJournalDue() {
    // A 600-byte change of a 1,200-byte frame weighs half of it: the quarter alone would make every
    // edit a whole save. The journal holds 64 changes (or 64 KiB) however small the frame.
    assertThat(changesUntilDue(600, 1200)).isEqualTo(JournalCompactor.COMPACT_CHANGES);
  }

  @Test
  void onASmallConfigurationChangesOverTheFloorMakeItDue() {
    int change = 20 * 1024;
    int expected = (int) (JournalCompactor.MIN_JOURNAL_BYTES / change) + 1; // the first one over
    assertThat(changesUntilDue(change, 1200)).isEqualTo(expected);
  }

  @Test
  void onALargeConfigurationChangesOverAQuarterOfTheFrameMakeItDue() {
    // 1 MB frame: a quarter is 256 KiB, over the floor; the fourth 70,000-byte change passes it.
    assertThat(changesUntilDue(70_000, 1 << 20)).isEqualTo(4);
  }

  @Test
  void aWholeSaveStartsTheCountAgain() {
    assertThat(changesUntilDue(600, 1200)).isEqualTo(JournalCompactor.COMPACT_CHANGES);
    compactor.wholeSaved();
    assertThat(changesUntilDue(600, 1200)).isEqualTo(JournalCompactor.COMPACT_CHANGES);
  }

  /**
   * A whole frame made for an edit that is no longer in force when it is done is not saved (the
   * journal holds the newer edit); the next one is asked for only after twice as many changes, then
   * three times: edits faster than a whole frame is made do not make one each to throw away.
   */
  @Test
  void aWholeFrameThatCameTooLatePushesTheNextOneFurther() {
    InMemoryConfigStore store = new InMemoryConfigStore();
    AtomicReference<Published> inForce = new AtomicReference<>(published(2));
    Object lock = new Object();
    JournalCompactor late = new JournalCompactor(store, lock, inForce::get, () -> false);
    try {
      synchronized (lock) {
        assertThat(changesUntilDue(late, 600, 1200)).isEqualTo(JournalCompactor.COMPACT_CHANGES);
      }
      late.saveWhenMade(new byte[] {1}, 1); // edit 1's frame, made once edit 2 is in force
      await().until(() -> lateFrames(late, lock) == 1);

      synchronized (lock) {
        // 64 changes were saved: due again at twice that, 64 more; nothing was saved whole.
        assertThat(changesUntilDue(late, 600, 1200)).isEqualTo(JournalCompactor.COMPACT_CHANGES);
        late.wholeSaved();
        assertThat(changesUntilDue(late, 600, 1200)).isEqualTo(JournalCompactor.COMPACT_CHANGES);
      }
      assertThat(store.load()).isEmpty();
    } finally {
      late.shutdown();
    }
  }

  private static int lateFrames(JournalCompactor compactor, Object lock) {
    synchronized (lock) {
      return compactor.lateFrames();
    }
  }

  private static Published published(long sequence) {
    ObjectNode config = JsonNodeFactory.instance.objectNode().put("_format_version", "3.0");
    return new Published(
        sequence,
        ConfigHash.configHashes(config),
        HybridProtocol.reconfigure(config, 1.0),
        config,
        Set.of(),
        Instant.EPOCH);
  }
}
