package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.ChangeSet;
import dev.configsync.internal.delta.IndexedConfig;
import dev.configsync.okhttp.internal.WebSocketFrame;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import okio.ByteString;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Incremental sync on the control plane: which node is sent a {@code reconfigure_delta} and which
 * the whole {@code reconfigure}, over real mutual TLS, with a real {@link ConfigSyncClient} and
 * with a raw data plane that plays Kong's node or a node that refuses a change.
 */
class DeltaSyncTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private static final ObjectNode A = routes(300, "/seven");
  private static final ObjectNode B = routes(300, "/changed");
  private ConfigSyncClient client;

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  /**
   * A Kong-style configuration of {@code n} routes keyed by id; route 7's path is {@code path7}.
   */
  static ObjectNode routes(int n, String path7) {
    ObjectNode t = MAPPER.createObjectNode().put("_format_version", "3.0");
    t.putArray("services").addObject().put("id", "s1").put("name", "svc").put("host", "example");
    for (int i = 0; i < n; i++) {
      t.withArray("routes")
          .addObject()
          .put("id", "r" + i)
          .put("name", "route-" + i)
          .put("paths", i == 7 ? path7 : "/p" + i)
          .put("service", "s1");
    }
    return t;
  }

  /**
   * A control plane publishes A, a real client gets it, then B (route 7 changed) is published and
   * the client gets that too. Returns the client's session on the control plane.
   */
  private OutletSession clientFromAToB(UnaryOperator<ConfigSyncClient.Builder> settings)
      throws Exception {
    f.start(b -> b);
    f.cp.publish(A);
    client = f.startClient(settings, snapshots, events);
    await().until(() -> hashOf(client).equals(ConfigHash.configHash(A)));
    OutletSession session = f.cp.outlet().sessions.iterator().next();
    f.cp.publish(B);
    await().until(() -> hashOf(client).equals(ConfigHash.configHash(B)));
    return session;
  }

  @Test
  void aCapableNodeOnAKnownConfigurationIsSentOnlyTheChange() throws Exception {
    OutletSession session = clientFromAToB(c -> c);
    ObjectNode b = B;

    assertThat(session.deltaCapable()).isTrue();
    assertThat(session.framesStarted()).isEqualTo(2);
    assertThat(session.deltaFramesStarted()).isOne();
    ConfigSnapshot last = client.current().orElseThrow();
    assertThat(last.config()).isEqualTo(b);
    assertThat(last.changes().collections()).containsOnlyKeys("routes");
    assertThat(last.changes().collections().get("routes").updated()).containsOnlyKeys("r7");
    await().until(() -> applied().size() == 2);
    assertThat(applied().get(1).delta()).isTrue();
    assertThat(applied().get(1).entitiesChanged()).isOne();
    assertThat(applied().get(0).delta()).isFalse();
    // The control plane hears the new hash in the node's ping, as after a whole frame.
    await()
        .until(
            () ->
                f.cp.dataPlanes().stream()
                    .anyMatch(p -> p.configHash().equals(ConfigHash.configHash(b))));
  }

  @Test
  void aNodeWithIncrementalSyncTurnedOffGetsWholeFrames() throws Exception {
    OutletSession session = clientFromAToB(c -> c.deltaSync(false));

    assertThat(session.deltaCapable()).isFalse();
    assertThat(session.framesStarted()).isEqualTo(2);
    assertThat(session.deltaFramesStarted()).isZero();
    await().until(() -> applied().size() == 2);
    assertThat(applied().get(1).delta()).isFalse();
  }

  @Test
  void aNodeOnAConfigurationTheHistoryDoesNotHoldGetsTheWholeFrame(@TempDir Path dir)
      throws Exception {
    f.start(b -> b);
    Path fallback = dir.resolve("kong.json");
    Files.writeString(fallback, routes(300, "/own").toString());
    f.cp.publish(routes(300, "/changed"));
    ConfigSyncClient client = f.startClient(c -> c.fallbackConfig(fallback), snapshots, events);
    String b = ConfigHash.configHash(routes(300, "/changed"));

    await().until(() -> hashOf(client).equals(b));

    OutletSession session = f.cp.outlet().sessions.iterator().next();
    assertThat(session.deltaCapable()).isTrue();
    assertThat(session.deltaFramesStarted()).isZero();
    assertThat(session.framesStarted()).isOne();
  }

  @Test
  void theChangeFrameTakesTheBaseToTheLatestExactly() throws Exception {
    RawDataPlane dp = nodeOnAWhileBIsLatest(true);
    ObjectNode a = A;
    ObjectNode b = B;

    JsonNode message = readMessage(dp);

    assertThat(message.path("type").asText()).isEqualTo("reconfigure_delta");
    assertThat(message.path("base_hash").asText()).isEqualTo(ConfigHash.configHash(a));
    assertThat(message.path("config_hash").asText()).isEqualTo(ConfigHash.configHash(b));
    assertThat(message.path("version").asLong()).isEqualTo(2);
    IndexedConfig.Applied applied =
        IndexedConfig.of(a)
            .apply(ChangeSet.fromJson(message.path("changes")), ConfigHash.configHashes(b));
    assertThat(applied.config().table()).isEqualTo(b);
    assertThat(applied.changes().entityCount()).isOne();
  }

  @Test
  void aKongNodeThatDoesNotAnnounceIsSentOnlyWholeFrames() throws Exception {
    RawDataPlane dp = nodeOnAWhileBIsLatest(false);

    assertThat(readMessage(dp).path("type").asText()).isEqualTo("reconfigure");
  }

  @Test
  void aChangeLargerThanTheFractionGoesAsTheWholeFrame() throws Exception {
    f.start(b -> b.maxDeltaFraction(0.05));
    ObjectNode a = routes(300, "/seven");
    f.cp.publish(a);
    ObjectNode b = routes(300, "/changed");
    for (JsonNode route : b.withArray("routes")) {
      ((ObjectNode) route).put("paths", "/moved/" + route.path("id").asText());
    }
    f.cp.publish(b);

    RawDataPlane dp = connect(true, ConfigHash.configHash(a));

    JsonNode message = readMessage(dp);
    assertThat(message.path("type").asText()).isEqualTo("reconfigure");
    assertThat(message.path("config_hash").asText()).isEqualTo(ConfigHash.configHash(b));
  }

  /**
   * A change is made from what the node runs. While the node has not answered the frame in flight,
   * a newer publish waits: a change from the configuration before would not fit once the node has
   * applied the frame in flight (found with edits in quick succession: BASE_MISMATCH, then a whole
   * frame).
   */
  @Test
  void theNextChangeIsSentOnlyOnceTheNodeReportsTheOneInFlightAndIsMadeFromIt() throws Exception {
    f.start(b -> b);
    ObjectNode c = routes(300, "/third");
    f.cp.publish(A);
    RawDataPlane dp = connect(true, ConfigHash.configHash(A));
    f.cp.publish(B);
    JsonNode first = readMessage(dp);
    assertThat(first.path("type").asText()).isEqualTo("reconfigure_delta");
    assertThat(first.path("base_hash").asText()).isEqualTo(ConfigHash.configHash(A));

    f.cp.publish(c); // the node has not answered B yet
    dp.ping(ConfigHash.configHash(B)); // as a node does once it has applied B

    JsonNode second = readMessage(dp);
    assertThat(second.path("type").asText()).isEqualTo("reconfigure_delta");
    assertThat(second.path("base_hash").asText()).isEqualTo(ConfigHash.configHash(B));
    assertThat(second.path("config_hash").asText()).isEqualTo(ConfigHash.configHash(c));
  }

  /**
   * A node that keeps reporting the base of a change, past the liveness limit, without an error
   * report, is in an unknown state: the publish that waited is sent to it whole, and not before.
   */
  @Test
  void aNewerPublishWaitsForTheChangeInFlightUpToTheLivenessLimitThenGoesWhole() throws Exception {
    f.start(b -> b);
    ObjectNode c = routes(300, "/third");
    f.cp.publish(A);
    RawDataPlane dp = connect(true, ConfigHash.configHash(A));
    f.cp.publish(B);
    assertThat(readMessage(dp).path("type").asText()).isEqualTo("reconfigure_delta");
    long sent = System.nanoTime();
    f.cp.publish(c);

    java.util.concurrent.ScheduledExecutorService pinger =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    try {
      // Alive, but still on A, as a node that lost the frame would be.
      var unused =
          pinger.scheduleAtFixedRate(
              () -> {
                try {
                  dp.ping(ConfigHash.configHash(A));
                } catch (IOException e) {
                  // the connection is closing: the read below fails and says so
                }
              },
              0,
              200,
              TimeUnit.MILLISECONDS);
      JsonNode whole = readMessage(dp);
      assertThat(whole.path("type").asText()).isEqualTo("reconfigure");
      assertThat(whole.path("config_hash").asText()).isEqualTo(ConfigHash.configHash(c));
      assertThat(Duration.ofNanos(System.nanoTime() - sent))
          .isGreaterThanOrEqualTo(ControlPlaneFixture.SILENCE_ALLOWED);
    } finally {
      pinger.shutdownNow();
    }
  }

  @Test
  void aNodeThatRefusesAChangeIsSentTheWholeFrameAtOnce() throws Exception {
    RawDataPlane dp = nodeOnAWhileBIsLatest(true);
    ObjectNode b = B;
    assertThat(readMessage(dp).path("type").asText()).isEqualTo("reconfigure_delta");

    dp.writer.writeBinary(
        ByteString.of(
            HybridProtocol.errorReport(
                "HASH_MISMATCH", "did not apply", ConfigHash.configHash(b), "configsync", true)));

    JsonNode whole = readMessage(dp);
    assertThat(whole.path("type").asText()).isEqualTo("reconfigure");
    assertThat(whole.path("config_hash").asText()).isEqualTo(ConfigHash.configHash(b));
  }

  @Test
  void theHistoryKeepsTheNewestWithinItsBounds() {
    ConfigHistory byCount = new ConfigHistory(2, Long.MAX_VALUE, 1.0);
    ConfigHistory byBytes = new ConfigHistory(100, 1, 1.0);
    try {
      for (int i = 0; i < 3; i++) {
        Published p = published(i + 1, routes(10, "/v" + i));
        byCount.add(p);
        byBytes.add(p);
      }
      assertThat(byCount.size()).isEqualTo(2);
      assertThat(byBytes.size()).isOne(); // the latest is kept whatever its size
      Published latest = published(4, routes(10, "/v3"));
      byCount.add(latest);
      assertThat(byCount.deltaFrame(latest, ConfigHash.configHash(routes(10, "/v0")))).isNull();
      assertThat(byCount.deltaFrame(latest, ConfigHash.configHash(routes(10, "/v2")))).isNotNull();
      assertThat(byCount.deltaFrame(latest, ConfigHash.configHash(routes(10, "/v2"))))
          .as("one change per base for every node")
          .isSameAs(byCount.deltaFrame(latest, ConfigHash.configHash(routes(10, "/v2"))));
    } finally {
      byCount.close();
      byBytes.close();
    }
  }

  /**
   * An entity edit's delta frame is made from its change set, with no diff: it is there even when
   * the history could keep only the latest tree (a configuration over the history's bytes), and it
   * carries exactly the edit.
   */
  @Test
  void anEntityEditsChangeIsSentWithoutTheBaseTreeOrADiff() throws Exception {
    ObjectNode a = routes(10, "/p7");
    ObjectNode route7 = (ObjectNode) routes(10, "/edited").get("routes").get(7);
    EntityEdits.Edited edit =
        EntityEdits.apply(
            IndexedConfig.of(a), List.of(new EntityEdits.Edit("routes", "r7", route7)));
    assertThat(edit.config().table()).isEqualTo(routes(10, "/edited"));
    assertThat(edit.config().hashes()).isEqualTo(ConfigHash.configHashes(routes(10, "/edited")));
    String base = ConfigHash.configHash(a);

    ConfigHistory withChange = new ConfigHistory(100, 1, 1.0); // room for the latest only
    ConfigHistory withoutChange = new ConfigHistory(100, 1, 1.0);
    try {
      Published target = published(2, (ObjectNode) edit.config().table());
      withChange.add(published(1, a));
      byte[] change =
          withChange.changeFrame(
              base,
              target.hashes(),
              target.sequence(),
              target.publishedAt(),
              target.frameSize(),
              edit.changes());
      withChange.add(target, new ConfigHistory.Change(base, change));
      withoutChange.add(published(1, a));
      withoutChange.add(target);

      assertThat(withoutChange.deltaFrame(target, base))
          .as("no tree of the base, no diff")
          .isNull();
      byte[] frame = withChange.deltaFrame(target, base).get(10, TimeUnit.SECONDS);
      assertThat(frame).isNotNull();
      JsonNode message = Json.readFrozen(Gzip.decompress(frame, 1 << 20));
      assertThat(message.path("base_hash").asText()).isEqualTo(base);
      assertThat(ChangeSet.fromJson(message.path("changes"))).isEqualTo(edit.changes());
      assertThat(edit.changes().size()).isOne();
    } finally {
      withChange.close();
      withoutChange.close();
    }
  }

  /**
   * With a store that keeps changes ahead of the whole payload, an entity edit is answered, and
   * reaches a node on its base, while the store's whole saves are held; a Kong node gets the whole
   * frame, made for it, and the store then saves it whole.
   */
  @Test
  void anEntityEditIsAnsweredOnceItsChangeIsDurableAndItsWholeFrameIsMadeForTheNodesThatNeedIt()
      throws Exception {
    HeldStore store = new HeldStore(true);
    startWith(store);
    f.cp.publish(A);
    client = f.startClient(c -> c, snapshots, events);
    await().until(() -> hashOf(client).equals(ConfigHash.configHash(A)));
    RawDataPlane kong = connect(false, ConfigHash.NONE);
    assertThat(readMessage(kong).path("config_hash").asText()).isEqualTo(ConfigHash.configHash(A));
    kong.ping(ConfigHash.configHash(A));
    store.hold();

    // Answered while the store's whole saves are held: the change is durable, which is enough.
    HttpResponse<String> answer = putRoute7("/changed").get(10, TimeUnit.SECONDS);
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    assertThat(store.changes)
        .containsExactly(ConfigHash.configHash(A) + " -> " + ConfigHash.configHash(B));

    await().until(() -> hashOf(client).equals(ConfigHash.configHash(B)));
    await().until(() -> applied().size() == 2);
    assertThat(applied().get(1).delta()).isTrue();
    // Kong's node takes only whole frames: B's is made for it, without waiting for the store.
    kong.ping(ConfigHash.configHash(A)); // a raw node pings only when told: keep it alive
    JsonNode whole = readMessage(kong);
    assertThat(whole.path("type").asText()).isEqualTo("reconfigure");
    assertThat(whole.path("config_hash").asText()).isEqualTo(ConfigHash.configHash(B));

    // Once made, the frame is saved whole too (the store's journal is emptied).
    await().until(() -> store.saving.getCount() == 0);
    store.release();
    await().until(() -> ConfigHash.configHash(B).equals(store.saved));
    // The size reported is the made frame's now, not the estimate.
    assertThat(f.cp.currentConfig().orElseThrow().payloadBytes()).isEqualTo(store.payloadLength());
  }

  @Test
  void editsNoNodeNeedsWholeAreNotCompressedUntilTheStoresJournalIsDueForCompaction()
      throws Exception {
    HeldStore store = new HeldStore(true);
    startWith(store);
    // A large part no edit touches keeps the journal's bytes under a quarter of the whole frame,
    // so that the count of changes is what makes it due.
    ObjectNode base = withBlob(routes(300, "/p0"));
    f.cp.publish(base);
    client = f.startClient(c -> c, snapshots, events);
    await().until(() -> hashOf(client).equals(ConfigHash.configHash(base)));

    int frameOfBase = f.cp.currentConfig().orElseThrow().payloadBytes();

    String last = null;
    for (int i = 1; i <= JournalCompactor.COMPACT_CHANGES; i++) {
      HttpResponse<String> answer = putRoute7("/edit-" + i).get(10, TimeUnit.SECONDS);
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
      if (i == 1) {
        // No whole frame is made for the answer: its size is the estimate, the frame before.
        assertThat(MAPPER.readTree(answer.body()).path("payload_bytes").asInt())
            .isEqualTo(frameOfBase);
      }
      last = withBlob(routes(300, "/edit-" + i)).toString();
    }
    String lastHash = ConfigHash.configHash(MAPPER.readTree(last));
    await().until(() -> lastHash.equals(hashOf(client)));
    await().until(() -> lastHash.equals(store.saved));

    // Every edit went to the journal; only the configuration published whole and the one that
    // made the journal due were ever saved whole (one compression, not one per edit).
    assertThat(store.changes).hasSize(JournalCompactor.COMPACT_CHANGES);
    assertThat(store.savedHashes).containsExactly(ConfigHash.configHash(base), lastHash);
    // The node took every edit as a change (edits that came while one was in flight were folded
    // into the next), and refused none.
    assertThat(applied().size()).isBetween(2, JournalCompactor.COMPACT_CHANGES + 1);
    assertThat(applied().subList(1, applied().size()))
        .allSatisfy(a -> assertThat(a.delta()).isTrue());
    assertThat(applied().get(applied().size() - 1).hash()).isEqualTo(lastHash);
    assertThat(events).noneMatch(SyncEvent.SnapshotRejected.class::isInstance);
  }

  /** {@code table} with a large top-level member of incompressible text that no edit changes. */
  private static ObjectNode withBlob(ObjectNode table) {
    java.util.Random random = new java.util.Random(7);
    byte[] bytes = new byte[300_000];
    random.nextBytes(bytes);
    return table.put("blob", java.util.Base64.getEncoder().encodeToString(bytes));
  }

  @Test
  void withAStoreThatKeepsNoChangesAnEditIsInForceOnlyOnceItsWholePayloadIsSaved()
      throws Exception {
    HeldStore store = new HeldStore(false);
    startWith(store);
    f.cp.publish(A);
    store.hold();

    CompletableFuture<HttpResponse<String>> edit = putRoute7("/changed");
    await().until(() -> store.saving.getCount() == 0);

    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(ConfigHash.configHash(A));
    store.release();
    assertThat(edit.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(ConfigHash.configHash(B));
    assertThat(store.changes).isEmpty();
  }

  /** Starts the control plane on {@code store}, with its admin API on loopback. */
  private void startWith(HeldStore store) throws Exception {
    f.start(
        b ->
            b.configStore(store)
                .admin(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0)));
  }

  private CompletableFuture<HttpResponse<String>> putRoute7(String path) {
    return f.adminPut("/config/routes/r7", routes(300, path).get("routes").get(7).toString());
  }

  /** A store in memory whose whole saves can be held; keeps changes when told to. */
  private static final class HeldStore implements ConfigStore {
    private final boolean keepsChanges;
    final List<String> changes = new CopyOnWriteArrayList<>();
    final CountDownLatch saving = new CountDownLatch(1);
    private final CountDownLatch mayFinish = new CountDownLatch(1);
    private volatile boolean held;
    private volatile byte @Nullable [] payload;
    volatile @Nullable String saved;
    final List<String> savedHashes = new CopyOnWriteArrayList<>();

    HeldStore(boolean keepsChanges) {
      this.keepsChanges = keepsChanges;
    }

    void hold() {
      held = true;
    }

    void release() {
      mayFinish.countDown();
    }

    @Override
    public Optional<byte[]> load() {
      return Optional.ofNullable(payload);
    }

    @Override
    public void save(byte[] payload, String hash) throws IOException {
      if (held) {
        saving.countDown();
        try {
          if (!mayFinish.await(30, TimeUnit.SECONDS)) {
            throw new IOException("the test never released the save");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
      }
      this.payload = payload;
      this.saved = hash;
      savedHashes.add(hash);
    }

    int payloadLength() {
      byte[] p = payload;
      return p == null ? -1 : p.length;
    }

    @Override
    public long saveChange(byte[] delta, String hash, String previousHash) {
      if (!keepsChanges) {
        return -1;
      }
      changes.add(previousHash + " -> " + hash);
      return 0;
    }

    @Override
    public String describe() {
      return "held test store";
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  private static Published published(long sequence, ObjectNode config) {
    return new Published(
        sequence,
        ConfigHash.configHashes(config),
        HybridProtocol.reconfigure(config, 1.0),
        config,
        java.util.Set.of(),
        Instant.EPOCH);
  }

  private List<SyncEvent.SnapshotApplied> applied() {
    return events.stream()
        .filter(SyncEvent.SnapshotApplied.class::isInstance)
        .map(SyncEvent.SnapshotApplied.class::cast)
        .toList();
  }

  private static String hashOf(ConfigSyncClient client) {
    return client.current().map(ConfigSnapshot::hash).orElse("");
  }

  /** A control plane that published A then B, and a raw node on A that announces or not. */
  private RawDataPlane nodeOnAWhileBIsLatest(boolean announce) throws Exception {
    f.start(b -> b);
    f.cp.publish(A);
    f.cp.publish(B);
    return connect(announce, ConfigHash.configHash(A));
  }

  /** A raw node that announces incremental sync or not, running {@code hash}. */
  private RawDataPlane connect(boolean announce, String hash) throws Exception {
    RawDataPlane dp =
        RawDataPlane.connect(f.dataPlaneTls(), f.address(), null, ConfigSyncClient.VERSION, 0);
    f.closeables.add(dp);
    dp.writer.writeBinary(ByteString.of(HybridProtocol.basicInfo(Map.of(), Map.of(), announce)));
    dp.ping(hash);
    return dp;
  }

  /** The next configuration message, inflated. */
  private static JsonNode readMessage(RawDataPlane dp) throws Exception {
    while (true) {
      WebSocketFrame frame = dp.read();
      if (frame.opcode() == WebSocketFrame.OP_BINARY) {
        return Json.readFrozen(Gzip.decompress(frame.payload().toByteArray(), 64 << 20));
      }
    }
  }
}
