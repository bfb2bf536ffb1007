package dev.configsync.cp;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.DeltaFrame;
import dev.configsync.internal.delta.IndexedConfig;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FileConfigStore}'s journal: entity edits saved ahead of their whole payload, replayed by
 * the next start, on real files.
 */
class FileConfigStoreJournalTest {
  private static final long MAX = 16 << 20;
  private static final ObjectNode A = DeltaSyncTest.routes(50, "/a");
  private static final ObjectNode B = DeltaSyncTest.routes(50, "/b");
  private static final ObjectNode C = DeltaSyncTest.routes(50, "/c");

  @TempDir Path dir;

  /** The change frame that takes {@code from} to {@code to} by upserting route 7 of {@code to}. */
  private static byte[] change(ObjectNode from, ObjectNode to) {
    EntityEdits.Edited edit =
        EntityEdits.apply(
            IndexedConfig.of(from),
            List.of(new EntityEdits.Edit("routes", "r7", to.get("routes").get(7))));
    assertThat(edit.config().hashes()).isEqualTo(ConfigHash.configHashes(to));
    return new DeltaFrame(
            ConfigHash.configHash(from), edit.config().hashes(), 2, 1.5, edit.changes())
        .encode();
  }

  private static String hashOf(byte[] payload) throws Exception {
    JsonNode message = Json.readFrozen(Gzip.decompress(payload, 64 << 20));
    assertThat(message.path("config_hash").asText())
        .isEqualTo(ConfigHash.configHash(message.path("config_table")));
    return message.path("config_hash").asText();
  }

  private FileConfigStore storeWithA() throws Exception {
    FileConfigStore store = FileConfigStore.open(dir, MAX);
    assertThat(store.load()).isEmpty();
    store.save(HybridProtocol.reconfigure(A, 1.0), ConfigHash.configHash(A));
    return store;
  }

  @Test
  void changesSavedAheadAreReplayedByTheNextStartAndCompacted() throws Exception {
    FileConfigStore store = storeWithA();
    assertThat(store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A)))
        .as("numbered like saves, after the whole save of A (1)")
        .isEqualTo(2);
    assertThat(store.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B)))
        .isEqualTo(3);
    assertThat(dir.resolve("config.journal")).exists();
    // No whole save followed: the process died here.

    FileConfigStore reopened = FileConfigStore.open(dir, MAX);
    assertThat(hashOf(reopened.load().orElseThrow())).isEqualTo(ConfigHash.configHash(C));
    assertThat(reopened.loadedRevision()).isEqualTo(3);
    assertThat(dir.resolve("config.journal")).doesNotExist();
    assertThat(hashOf(FileConfigStore.open(dir, MAX).load().orElseThrow()))
        .isEqualTo(ConfigHash.configHash(C));
  }

  @Test
  void aChangeIsNumberedByItsPlaceInTheJournalAndItsWholeSaveKeepsTheNumber() throws Exception {
    FileConfigStore store = storeWithA();
    assertThat(store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A)))
        .isEqualTo(2);
    assertThat(Files.readString(dir.resolve("config.version")).trim())
        .as("a change writes no number: its place in the journal is its number")
        .isEqualTo("1");
    FileConfigStore reopened = FileConfigStore.open(dir, MAX);
    assertThat(hashOf(reopened.load().orElseThrow())).isEqualTo(ConfigHash.configHash(B));
    assertThat(reopened.loadedRevision()).as("the change's number, from the journal").isEqualTo(2);
    assertThat(Files.readString(dir.resolve("config.version")).trim())
        .as("the replayed result was written back with its number first")
        .isEqualTo("2");
    assertThat(dir.resolve("config.journal")).doesNotExist();
    assertThat(
            reopened.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B)))
        .isEqualTo(3);
  }

  @Test
  void aWholeSaveOfTheNewestChangeKeepsItsNumberAndEmptiesTheJournal() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A));
    store.save(HybridProtocol.reconfigure(B, 2.0), ConfigHash.configHash(B));

    assertThat(dir.resolve("config.journal")).doesNotExist();
    assertThat(Files.readString(dir.resolve("config.version")).trim())
        .as("the whole save keeps the change's number")
        .isEqualTo("2");
    FileConfigStore reopened = FileConfigStore.open(dir, MAX);
    assertThat(hashOf(reopened.load().orElseThrow())).isEqualTo(ConfigHash.configHash(B));
    assertThat(reopened.loadedRevision()).isEqualTo(2);
  }

  @Test
  void theWholePayloadOfAnOlderChangeIsNotWrittenOverANewerOne() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A));
    store.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B));
    // B's whole payload comes late, after C's change: writing it would drop C.
    store.save(HybridProtocol.reconfigure(B, 2.0), ConfigHash.configHash(B));

    FileConfigStore reopened = FileConfigStore.open(dir, MAX);
    assertThat(hashOf(reopened.load().orElseThrow())).isEqualTo(ConfigHash.configHash(C));
    assertThat(reopened.loadedRevision()).isEqualTo(3);
  }

  @Test
  void aTornRecordIsCutAndItsNumberWasNeverAnswered() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A));
    long journalBefore = Files.size(dir.resolve("config.journal"));
    assertThat(store.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B)))
        .isEqualTo(3);
    // A crash in the middle of the append of number 3 (so it was never answered): half a record.
    long whole = Files.size(dir.resolve("config.journal"));
    try (var channel =
        java.nio.channels.FileChannel.open(
            dir.resolve("config.journal"), java.nio.file.StandardOpenOption.WRITE)) {
      channel.truncate(journalBefore + (whole - journalBefore) / 2);
    }

    FileConfigStore reopened = FileConfigStore.open(dir, MAX);
    assertThat(hashOf(reopened.load().orElseThrow())).isEqualTo(ConfigHash.configHash(B));
    assertThat(reopened.loadedRevision()).isEqualTo(2);
    assertThat(
            reopened.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B)))
        .as("above every number answered before the crash")
        .isEqualTo(3);
    assertThat(hashOf(FileConfigStore.open(dir, MAX).load().orElseThrow()))
        .isEqualTo(ConfigHash.configHash(C));
  }

  @Test
  void aCrashBetweenTheNumberAndThePayloadCostsAGapNeverAReuse() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A));
    store.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B));
    // A whole save (number 4) wrote its number, then the process died before the rename: the
    // payload (1) and its journal (2 and 3) are still in place.
    Files.writeString(dir.resolve("config.version"), "4\n");

    FileConfigStore reopened = FileConfigStore.open(dir, MAX);
    assertThat(hashOf(reopened.load().orElseThrow())).isEqualTo(ConfigHash.configHash(C));
    assertThat(reopened.loadedRevision()).as("a gap: 4 plus the two changes").isEqualTo(6);
    assertThat(reopened.save(HybridProtocol.reconfigure(A, 9.0), ConfigHash.configHash(A), null))
        .isEqualTo(7);
  }

  @Test
  void aJournalBesideAPayloadCopiedInFromANodeIsDiscarded() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A));
    // An operator copies a node's config.json.gz (configuration C) into the store directory.
    Files.write(dir.resolve("config.json.gz"), HybridProtocol.reconfigure(C, 3.0));

    assertThat(hashOf(FileConfigStore.open(dir, MAX).load().orElseThrow()))
        .isEqualTo(ConfigHash.configHash(C));
  }

  @Test
  void replayStopsAtTheLastChangeThatChecksOut() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A));
    store.saveChange(
        Gzip.compress("{\"type\":\"nonsense\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
        "x",
        "y");
    store.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B));

    assertThat(hashOf(FileConfigStore.open(dir, MAX).load().orElseThrow()))
        .isEqualTo(ConfigHash.configHash(B));
  }

  @Test
  void aChangeThatDoesNotFollowTheConfigurationReachedIsNotReplayed() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(B, C), ConfigHash.configHash(C), ConfigHash.configHash(B));

    assertThat(hashOf(FileConfigStore.open(dir, MAX).load().orElseThrow()))
        .isEqualTo(ConfigHash.configHash(A));
  }

  /** Through the admin API: an edit answered 200 is what the restarted control plane serves. */
  @Test
  void anEditOnAControlPlaneWithAFileStoreSurvivesARestart() throws Exception {
    ControlPlaneFixture f = new ControlPlaneFixture();
    try (f) {
      FileConfigStore store = FileConfigStore.open(dir, MAX);
      f.start(
          b ->
              b.configStore(store)
                  .admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
      f.cp.publish(A);
      HttpResponse<String> answer =
          f.adminPut("/config/routes/r7", B.get("routes").get(7).toString()).get(30, SECONDS);
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
      assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(ConfigHash.configHash(B));
      f.cp.close();

      f.cp = f.builder().configStore(FileConfigStore.open(dir, MAX)).start();
      assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(ConfigHash.configHash(B));
      assertThat(f.cp.currentConfig().orElseThrow().config()).isEqualTo(B);
    }
  }
}
