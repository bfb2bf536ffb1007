package dev.configsync.cache;

import static dev.configsync.cache.EncryptedStoresTest.KEY_A;
import static dev.configsync.cache.EncryptedStoresTest.KEY_B;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.AtRestEncryption;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code config.journal}: appends survive a restart in order, a torn or damaged tail is cut off and
 * never returned, a journal never outlives the payload it was appended to, and it is encrypted like
 * {@code config.json.gz}. The file format is in {@code docs/protocol.md}, "Cache journal".
 */
class FileSnapshotStoreJournalTest {
  @TempDir Path dir;

  private Path journalFile() {
    return dir.resolve("config.journal");
  }

  @Test
  void appendedChangesComeBackInOrderAfterARestart() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("payload"));
    List<byte[]> changes = List.of(gzip("change 1"), gzip("change 2"), gzip("change 3"));
    for (byte[] change : changes) {
      assertThat(store.append(change)).isTrue();
    }

    FileSnapshotStore reopened = FileSnapshotStore.open(dir);

    assertThat(reopened.read()).hasValueSatisfying(p -> assertThat(p).isEqualTo(gzip("payload")));
    assertThat(reopened.journal()).containsExactlyElementsOf(changes);
    assertThat(reopened.append(gzip("change 4"))).isTrue();
    FileSnapshotStore again = FileSnapshotStore.open(dir);
    again.read();
    assertThat(again.journal()).hasSize(4).last().isEqualTo(gzip("change 4"));
  }

  @Test
  void aWriteEmptiesTheJournal() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("payload"));
    store.append(gzip("change"));

    store.write(gzip("compacted"));

    assertThat(Files.exists(journalFile())).isFalse();
    FileSnapshotStore reopened = FileSnapshotStore.open(dir);
    reopened.read();
    assertThat(reopened.journal()).isEmpty();
  }

  @Test
  void appendIsRefusedUntilTheStoreKnowsWhichPayloadItHolds() throws IOException {
    FileSnapshotStore.open(dir).write(gzip("payload"));
    FileSnapshotStore reopened = FileSnapshotStore.open(dir);

    assertThat(reopened.append(gzip("change"))).isFalse(); // neither read+journal nor write yet
    reopened.read();
    assertThat(reopened.append(gzip("change"))).isFalse(); // the journal is not known yet
    reopened.journal();
    assertThat(reopened.append(gzip("change"))).isTrue();
    assertThat(FileSnapshotStore.open(dir).append(gzip("change"))).isFalse();
  }

  @Test
  void aJournalLeftBesideANewerPayloadIsDiscarded() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("A"));
    store.append(gzip("A->B"));
    byte[] oldJournal = Files.readAllBytes(journalFile());
    // A crash between the rename of the new payload and the deletion of the journal:
    store.write(gzip("C"));
    Files.write(journalFile(), oldJournal);

    FileSnapshotStore reopened = FileSnapshotStore.open(dir);
    reopened.read();

    assertThat(reopened.journal()).isEmpty();
    assertThat(Files.exists(journalFile())).isFalse();
    assertThat(reopened.append(gzip("C->D"))).isTrue();
    FileSnapshotStore again = FileSnapshotStore.open(dir);
    again.read();
    assertThat(again.journal()).containsExactly(gzip("C->D"));
  }

  @Test
  void aCopiedInPayloadDoesNotPickUpTheJournal() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("mine"));
    store.append(gzip("mine->next"));
    Files.write(store.file(), gzip("copied from another node"));

    FileSnapshotStore reopened = FileSnapshotStore.open(dir);
    reopened.read();

    assertThat(reopened.journal()).isEmpty();
  }

  @Test
  void theSamePayloadWrittenAgainIsNotConfusedWithItsOldJournalOnceTheWriteReturned()
      throws IOException {
    // A -> B -> C by journal, then the whole A again (a rollback): once write returns, a restart
    // must come back on A, not replay A -> B -> C.
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("A"));
    store.append(gzip("A->B"));
    store.append(gzip("B->C"));

    store.write(gzip("A"));

    FileSnapshotStore reopened = FileSnapshotStore.open(dir);
    assertThat(reopened.read()).hasValueSatisfying(p -> assertThat(p).isEqualTo(gzip("A")));
    assertThat(reopened.journal()).isEmpty();
  }

  @Test
  void aTornTailIsCutOffAndLaterAppendsFollowTheLastGoodRecord() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("payload"));
    store.append(gzip("change 1"));
    long afterFirst = Files.size(journalFile());
    store.append(gzip("change 2"));
    long full = Files.size(journalFile());
    for (long cut = afterFirst + 1; cut < full; cut++) {
      Path copy = dir.resolve("copy");
      Files.createDirectories(copy);
      Files.copy(store.file(), copy.resolve("config.json.gz"), REPLACE);
      Files.copy(journalFile(), copy.resolve("config.journal"), REPLACE);
      truncate(copy.resolve("config.journal"), cut);

      FileSnapshotStore torn = FileSnapshotStore.open(copy);
      torn.read();

      assertThat(torn.journal()).as("cut at %s", cut).containsExactly(gzip("change 1"));
      assertThat(Files.size(copy.resolve("config.journal"))).isEqualTo(afterFirst);
      assertThat(torn.append(gzip("change 3"))).isTrue();
      FileSnapshotStore after = FileSnapshotStore.open(copy);
      after.read();
      assertThat(after.journal()).containsExactly(gzip("change 1"), gzip("change 3"));
    }
  }

  @Test
  void aJournalTornInItsFirstRecordOrHeaderIsEmpty() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("payload"));
    store.append(gzip("change 1"));
    byte[] whole = Files.readAllBytes(journalFile());
    for (int cut = 0; cut < whole.length; cut++) {
      Files.write(journalFile(), java.util.Arrays.copyOf(whole, cut));
      FileSnapshotStore torn = FileSnapshotStore.open(dir);
      torn.read();
      assertThat(torn.journal()).as("cut at %s", cut).isEmpty();
    }
  }

  @Property(tries = 60)
  void aDamagedByteEndsTheJournalBeforeTheRecordItIsIn(
      @ForAll @IntRange(min = 0, max = 10_000) int where,
      @ForAll @IntRange(min = 1, max = 255) int x)
      throws IOException {
    Path d = Files.createTempDirectory("journal");
    FileSnapshotStore store = FileSnapshotStore.open(d);
    store.write(gzip("payload"));
    List<byte[]> changes = new ArrayList<>();
    List<Long> ends = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      changes.add(gzip("change " + i + " " + "x".repeat(i * 7)));
      store.append(changes.get(i));
      ends.add(Files.size(d.resolve("config.journal")));
    }
    Path journal = d.resolve("config.journal");
    byte[] bytes = Files.readAllBytes(journal);
    int at = where % bytes.length;
    bytes[at] ^= (byte) x;
    Files.write(journal, bytes);

    FileSnapshotStore damaged = FileSnapshotStore.open(d);
    damaged.read();
    List<byte[]> read = damaged.journal();

    int intact = 0;
    while (intact < ends.size() && ends.get(intact) <= at) {
      intact++;
    }
    boolean inHeader = at < JournalFile.HEADER_BYTES;
    assertThat(read).containsExactlyElementsOf(inHeader ? List.of() : changes.subList(0, intact));
    try (java.util.stream.Stream<Path> files = Files.list(d)) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
    Files.delete(d);
  }

  @Test
  void recordsAreEncryptedLikeTheCacheAndSurviveAKeyRotation() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir, KEY_A);
    store.write(gzip("payload"));
    byte[] secret = gzip("change with MARKER-s3cr3t");
    store.append(secret);

    byte[] file = Files.readAllBytes(journalFile());
    byte[] record =
        java.util.Arrays.copyOfRange(
            file, JournalFile.HEADER_BYTES + JournalFile.RECORD_OVERHEAD, file.length);
    assertThat(AtRestEncryption.isEncrypted(record)).isTrue();
    assertThat(AtRestEncryption.keyIdOf(record)).contains(KEY_A.keyId());
    assertThat(KEY_A.decrypt(record, "record")).isEqualTo(secret);
    // Rotating the key re-encrypts config.json.gz at read; its journal still belongs to it.
    FileSnapshotStore rotated = FileSnapshotStore.open(dir, KEY_B.withOldKeys(KEY_A));
    rotated.read();
    assertThat(rotated.journal()).containsExactly(secret);
    assertThat(AtRestEncryption.keyIdOf(Files.readAllBytes(store.file()))).contains(KEY_B.keyId());
    // A record under a key this store does not have ends the journal before it.
    FileSnapshotStore withA = FileSnapshotStore.open(dir, KEY_A.withOldKeys(KEY_B));
    withA.read();
    withA.journal();
    withA.append(gzip("change under key A"));
    byte[] journalUnderA = Files.readAllBytes(journalFile());
    FileSnapshotStore.open(dir, KEY_B).write(gzip("payload")); // same payload, under key B
    Files.write(journalFile(), journalUnderA);
    FileSnapshotStore onlyB = FileSnapshotStore.open(dir, KEY_B);
    onlyB.read();
    assertThat(onlyB.journal()).isEmpty();
    assertThat(Files.size(journalFile())).isEqualTo(JournalFile.HEADER_BYTES);
  }

  @Test
  void movingTheCacheAsideDeletesItsJournal() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    store.write(gzip("payload"));
    store.append(gzip("change"));

    store.moveAside("test");

    assertThat(Files.exists(journalFile())).isFalse();
    assertThat(store.append(gzip("change"))).isFalse();
  }

  private static final java.nio.file.CopyOption REPLACE =
      java.nio.file.StandardCopyOption.REPLACE_EXISTING;

  private static void truncate(Path file, long size) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate(size);
    }
  }

  static byte[] gzip(String text) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(text.getBytes(UTF_8));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
