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
  void aWholeSaveEmptiesTheJournal() throws Exception {
    FileConfigStore store = storeWithA();
    store.saveChange(change(A, B), ConfigHash.configHash(B), ConfigHash.configHash(A));
    store.save(HybridProtocol.reconfigure(B, 2.0), ConfigHash.configHash(B));

    assertThat(dir.resolve("config.journal")).doesNotExist();
    FileConfigStore reopened = FileConfigStore.open(dir, MAX);
    assertThat(hashOf(reopened.load().orElseThrow())).isEqualTo(ConfigHash.configHash(B));
    assertThat(reopened.loadedRevision())
        .as("the whole save keeps the change's number")
        .isEqualTo(2);
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
