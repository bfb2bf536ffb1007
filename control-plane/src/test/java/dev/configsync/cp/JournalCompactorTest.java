package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;

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
    for (int n = 1; n <= JournalCompactor.COMPACT_CHANGES; n++) {
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
}
