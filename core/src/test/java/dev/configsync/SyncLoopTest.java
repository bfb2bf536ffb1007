package dev.configsync;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.tuple;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.UniformBackoff;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sync loop, driven through {@link ConfigSyncClient} with a hand-driven clock ({@link
 * ManualScheduler}), a fake control plane ({@link FakeTransport}) and a store in memory ({@link
 * InMemoryStore}). Timers fire only when a test advances time; decoding and cache writes run on the
 * client's own threads, so their effects are awaited with Awaitility.
 */
class SyncLoopTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final UUID NODE_ID = UUID.fromString("5f4a2c1e-0000-4000-8000-000000000001");
  private static final URI CONTROL_PLANE = URI.create("wss://cp.example.com:8005");
  private static final String NONE = "00000000000000000000000000000000";
  private static final Duration HEARTBEAT = Duration.ofSeconds(30);
  private static final Duration DEAD_AFTER = Duration.ofSeconds(45);
  private static final Duration ONE_NANO = Duration.ofNanos(1);
  private static final Duration ONE_MILLI = Duration.ofMillis(1);
  // Distinct from the 10 s handshake timeout, so that its timers can be counted.
  private static final Duration CACHE_TIMEOUT = Duration.ofSeconds(20);

  private final ManualScheduler scheduler = new ManualScheduler();
  private final FakeTransport transport = new FakeTransport();
  private final InMemoryStore store = new InMemoryStore(NODE_ID);
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private final List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
  private final List<ConfigSyncClient> clients = new ArrayList<>();

  @AfterEach
  void closeClients() {
    store.releaseWrites(); // close() waits for a write under way
    clients.forEach(ConfigSyncClient::close);
  }

  // ---- connection and heartbeat ------------------------------------------------------------

  @Test
  void sendsBasicInfoThenPingWithZeroHashOnOpen() throws IOException {
    ConfigSyncClient client =
        start(
            builder()
                .capability("zipkin", "3.5.0")
                .capability("acl", "3.4.1")
                .capability("rate-limiting", "3.4.0")
                .label("tier", "edge")
                .label("region", "eu-west-1"));

    assertThat(transport.connectCount()).isOne();
    FakeConnection c = transport.last();
    assertThat(c.request().uri())
        .hasToString(
            "wss://cp.example.com:8005/v1/outlet?node_id="
                + NODE_ID
                + "&node_hostname=dp-1&node_version="
                + ConfigSyncClient.VERSION);
    assertThat(c.binaryFrames()).isEmpty(); // nothing is sent before the connection opens
    assertThat(c.pings()).isEmpty();

    c.open();

    assertThat(c.binaryFrames()).hasSize(1);
    JsonNode info = MAPPER.readTree(c.binaryFrames().get(0));
    assertThat(info.path("type").asText()).isEqualTo("basic_info");
    assertThat(info.path("plugins"))
        .isEqualTo(
            MAPPER.readTree(
                "[{\"name\":\"acl\",\"version\":\"3.4.1\"},"
                    + "{\"name\":\"rate-limiting\",\"version\":\"3.4.0\"},"
                    + "{\"name\":\"zipkin\",\"version\":\"3.5.0\"}]"));
    assertThat(info.path("labels"))
        .isEqualTo(MAPPER.readTree("{\"region\":\"eu-west-1\",\"tier\":\"edge\"}"));
    assertThat(c.pings()).containsExactly(NONE);
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);
  }

  @Test
  void pingsEveryHeartbeatInterval() {
    FakeConnection c = startConnected(builder());
    assertThat(c.pings()).hasSize(1);

    scheduler.advance(HEARTBEAT.minusSeconds(1));
    assertThat(c.pings()).hasSize(1);

    scheduler.advance(Duration.ofSeconds(1));
    assertThat(c.pings()).containsExactly(NONE, NONE);

    c.pong();
    scheduler.advance(HEARTBEAT.minusSeconds(1));
    assertThat(c.pings()).hasSize(2);
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(c.pings()).hasSize(3);
  }

  @Test
  void declaresControlPlaneDeadAfterOneAndAHalfIntervalsOfSilence() {
    FakeConnection c = startConnected(builder());

    scheduler.advance(DEAD_AFTER.minus(ONE_NANO));
    assertThat(events(SyncEvent.Disconnected.class)).isEmpty();
    assertThat(c.isCancelled()).isFalse();

    scheduler.advance(ONE_NANO);
    assertThat(events(SyncEvent.Disconnected.class)).hasSize(1);
    assertThat(events(SyncEvent.Disconnected.class).get(0).reason())
        .contains("nothing from the control plane");
    assertThat(c.isCancelled()).isTrue();
  }

  @Test
  void aPongPostponesTheDeadline() {
    ConfigSyncClient client = start(builder());
    FakeConnection c = transport.last();
    c.open();

    scheduler.advance(Duration.ofSeconds(40));
    c.pong();
    scheduler.advance(Duration.ofSeconds(5)); // 45 s after open, 5 s after the pong
    assertThat(events(SyncEvent.Disconnected.class)).isEmpty();
    assertThat(c.isCancelled()).isFalse();
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);

    scheduler.advance(Duration.ofSeconds(40).minus(ONE_NANO)); // just before 40 + 45 s
    assertThat(events(SyncEvent.Disconnected.class)).isEmpty();

    scheduler.advance(ONE_NANO); // 85 s: 45 s after the pong
    assertThat(events(SyncEvent.Disconnected.class)).hasSize(1);
    assertThat(c.isCancelled()).isTrue();
    assertThat(client.status().state()).isEqualTo(SyncState.WAITING_RETRY);
  }

  @Test
  void abandonsAConnectionThatDoesNotOpenWithinTheHandshakeTimeout() {
    start(builder().handshakeTimeout(Duration.ofSeconds(10)));
    FakeConnection c = transport.last();

    scheduler.advance(Duration.ofSeconds(10).minus(ONE_NANO));
    assertThat(events(SyncEvent.Disconnected.class)).isEmpty();

    scheduler.advance(ONE_NANO);
    assertThat(events(SyncEvent.Disconnected.class))
        .singleElement()
        .satisfies(d -> assertThat(d.reason()).contains("not established"));
    assertThat(c.isCancelled()).isTrue();
    c.open(); // too late: ignored
    assertThat(events(SyncEvent.Connected.class)).isEmpty();
    assertThat(transport.connectCount()).isOne();
  }

  @Test
  void reconnectsAfterJitteredDelayWithinWindow() {
    start(builder());
    List<Duration> delays = new ArrayList<>();
    for (int attempt = 1; attempt <= 5; attempt++) {
      assertThat(transport.connectCount()).isEqualTo(attempt);
      transport.last().fail(new IOException("connection refused"));

      List<SyncEvent.Disconnected> disconnects = events(SyncEvent.Disconnected.class);
      assertThat(disconnects).hasSize(attempt);
      Duration retryIn = disconnects.get(attempt - 1).retryIn();
      assertThat(retryIn).isBetween(Duration.ofSeconds(5), Duration.ofSeconds(10));
      assertThat(disconnects.get(attempt - 1).reason()).contains("connection refused");
      delays.add(retryIn);

      scheduler.advance(retryIn.minus(ONE_MILLI));
      assertThat(transport.connectCount()).isEqualTo(attempt);
      scheduler.advance(ONE_MILLI);
      assertThat(transport.connectCount()).isEqualTo(attempt + 1);
    }
    assertThat(delays).doesNotHaveDuplicates(); // drawn anew each time
    List<SyncEvent.Connecting> connecting = events(SyncEvent.Connecting.class);
    assertThat(connecting)
        .extracting(SyncEvent.Connecting::attempt)
        .containsExactly(1, 2, 3, 4, 5, 6);
  }

  @Test
  void reconnectDelaysAreSpreadOverTheWindow() {
    UniformBackoff backoff =
        new UniformBackoff(Duration.ofSeconds(5), Duration.ofSeconds(10), new Random(20240601));
    int draws = 2_000;
    int[] buckets = new int[5];
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    long distinct = 0;
    long previous = -1;
    for (int i = 0; i < draws; i++) {
      long millis = backoff.apply(1); // the attempt number does not matter
      min = Math.min(min, millis);
      max = Math.max(max, millis);
      buckets[(int) Math.min(4, (millis - 5_000) / 1_000)]++;
      if (millis != previous) {
        distinct++;
      }
      previous = millis;
    }
    assertThat(min).isGreaterThanOrEqualTo(5_000).isLessThan(5_050);
    assertThat(max).isLessThanOrEqualTo(10_000).isGreaterThan(9_950);
    for (int count : buckets) {
      assertThat(count).isBetween(draws * 15 / 100, draws * 25 / 100);
    }
    assertThat(distinct).isGreaterThan(draws / 2);
  }

  // ---- configurations ----------------------------------------------------------------------

  @Test
  void appliesPushedConfigurationAndPingsItsHash() {
    ConfigSyncClient client = start(builder());
    FakeConnection c = transport.last();
    c.open();
    ObjectNode table = table("orders");
    String hash = ConfigHash.configHash(table);

    c.deliver(payload(table));

    eventually().until(() -> snapshots.size() == 1);
    ConfigSnapshot s = snapshots.get(0);
    assertThat(s.hash()).isEqualTo(hash);
    assertThat(s.source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(s.config()).isEqualTo(table);
    assertThat(s.timestamp()).isEqualTo(Instant.parse("2023-11-14T22:13:20.250Z"));
    eventually().until(() -> c.pings().contains(hash));
    assertThat(c.pings()).containsExactly(NONE, hash);
    assertThat(client.current()).containsSame(s);
    assertThat(client.status().hash()).isEqualTo(hash);
    assertThat(client.status().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(client.status().applied()).isOne();

    // Later heartbeats carry the hash too. (The timer task may be run by a worker thread that is
    // still finishing the apply in the loop, hence the wait.)
    scheduler.advance(HEARTBEAT);
    eventually().until(() -> c.pings().size() == 3);
    assertThat(c.pings()).containsExactly(NONE, hash, hash);
  }

  @Test
  void writesCacheBeforeListenersHearOfIt() {
    AtomicReference<Optional<byte[]>> storedWhenHeard = new AtomicReference<>();
    start(builder().onSnapshot(s -> storedWhenHeard.set(Optional.ofNullable(store.bytes()))));
    FakeConnection c = transport.last();
    c.open();
    byte[] a = payload(table("a"));

    c.deliver(a);

    awaitApplied(table("a")); // emitted after the snapshot listeners were called
    assertThat(storedWhenHeard.get()).hasValueSatisfying(held -> assertThat(held).isEqualTo(a));
    List<SyncEvent> relevant =
        events.stream()
            .filter(
                e -> e instanceof SyncEvent.CacheWritten || e instanceof SyncEvent.SnapshotApplied)
            .toList();
    assertThat(relevant)
        .hasExactlyElementsOfTypes(SyncEvent.CacheWritten.class, SyncEvent.SnapshotApplied.class);
    assertThat(((SyncEvent.CacheWritten) relevant.get(0)).bytes()).isEqualTo(a.length);
  }

  @Test
  void rejectsHashMismatchAndKeepsLastGood() {
    String wrong = "0123456789abcdef0123456789abcdef";
    byte[] bad =
        gzipJson(
            "{\"type\":\"reconfigure\",\"timestamp\":1700000000,"
                + "\"config_table\":"
                + table("tampered")
                + ",\"config_hash\":\""
                + wrong
                + "\"}");

    SyncEvent.SnapshotRejected rejected =
        assertRejectedKeepingLastGood(builder(), bad, Reason.HASH_MISMATCH);

    assertThat(rejected.hash()).isEqualTo(wrong);
    assertThat(rejected.message()).contains(ConfigHash.configHash(table("tampered")));
  }

  @Test
  void rejectsBrokenGzip() {
    assertRejectedKeepingLastGood(
        builder(), "this is not gzip at all".getBytes(UTF_8), Reason.BAD_GZIP);
  }

  @Test
  void rejectsTruncatedGzip() {
    byte[] whole = payload(table("truncated"));
    // Without its 8-byte trailer (CRC and length) the deflate data is complete: only reading on
    // to the trailer finds the damage.
    SyncEvent.SnapshotRejected rejected =
        assertRejectedKeepingLastGood(
            builder(), Arrays.copyOf(whole, whole.length - 8), Reason.BAD_GZIP);
    assertThat(rejected.message()).contains("truncated");
  }

  @Test
  void rejectsDecompressionBomb() {
    // 2 MiB of '0' inside a string: valid JSON all the way, so only the inflate cap can stop it.
    byte[] bomb =
        gzipJson(
            "{\"type\":\"reconfigure\",\"config_table\":{\"pad\":\""
                + "0".repeat(2 * 1024 * 1024)
                + "\"}}");
    assertThat(bomb.length).isLessThan(64 * 1024);

    assertRejectedKeepingLastGood(
        builder().maxPayloadBytes(64 * 1024).maxInflatedBytes(1024 * 1024),
        bomb,
        Reason.INFLATED_TOO_LARGE);
  }

  @Test
  void rejectsOversizedPayload() {
    byte[] big = new byte[4097];
    new Random(1).nextBytes(big);

    assertRejectedKeepingLastGood(builder().maxPayloadBytes(4096), big, Reason.PAYLOAD_TOO_LARGE);

    assertThat(transport.last().request().maxFrameBytes()).isEqualTo(4096);
  }

  @Test
  void rejectsNonReconfigureMessage() {
    SyncEvent.SnapshotRejected rejected =
        assertRejectedKeepingLastGood(
            builder(), gzipJson("{\"type\":\"basic_info\",\"plugins\":[]}"), Reason.BAD_MESSAGE);
    assertThat(rejected.message()).contains("basic_info");
  }

  @Test
  void rejectsDeeplyNestedJson() {
    int depth = 10_000;
    byte[] deep =
        gzipJson(
            "{\"type\":\"reconfigure\",\"config_table\":{\"deep\":"
                + "[".repeat(depth)
                + "]".repeat(depth)
                + "}}");

    assertRejectedKeepingLastGood(builder(), deep, Reason.BAD_JSON);
  }

  @Test
  void validatorRejectionKeepsLastGood() {
    SyncEvent.SnapshotRejected rejected =
        assertRejectedKeepingLastGood(
            builder()
                .validator(
                    s -> {
                      if (s.config().has("forbidden")) {
                        throw new IllegalArgumentException("route /admin is not allowed");
                      }
                    }),
            payload(table("bad").put("forbidden", true)),
            Reason.VALIDATOR);

    assertThat(rejected.message()).contains("route /admin is not allowed");
    assertThat(rejected.hash())
        .isEqualTo(ConfigHash.configHash(table("bad").put("forbidden", true)));
  }

  @Test
  void refusedManualLoadIsReportedLikeAnyRefusedConfiguration(@TempDir Path dir)
      throws IOException {
    ConfigSyncClient client =
        start(
            builder()
                .validator(
                    s -> {
                      if (s.config().has("forbidden")) {
                        throw new IllegalArgumentException("route /admin is not allowed");
                      }
                    }));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode good = table("good");
    c.deliver(payload(good));
    awaitApplied(good);
    ConfigSnapshot running = client.current().orElseThrow();
    Path duplicate = Files.writeString(dir.resolve("dup.json"), "{\"a\":1,\n\"a\":2}");
    ObjectNode forbidden = table("bad").put("forbidden", true);
    Path refusedByValidator =
        Files.writeString(dir.resolve("forbidden.json"), MAPPER.writeValueAsString(forbidden));

    ConfigFileException badFile =
        catchThrowableOfType(ConfigFileException.class, () -> client.loadManual(duplicate, true));
    ConfigRejectedException refused =
        catchThrowableOfType(
            ConfigRejectedException.class, () -> client.loadManual(refusedByValidator, true));

    assertThat(badFile.line()).isEqualTo(2);
    eventually().until(() -> events(SyncEvent.SnapshotRejected.class).size() == 2);
    assertThat(events(SyncEvent.SnapshotRejected.class))
        .extracting(
            SyncEvent.SnapshotRejected::source,
            SyncEvent.SnapshotRejected::reason,
            SyncEvent.SnapshotRejected::hash,
            SyncEvent.SnapshotRejected::message)
        .containsExactly(
            tuple(SnapshotSource.MANUAL, Reason.BAD_FILE, null, badFile.getMessage()),
            tuple(
                SnapshotSource.MANUAL,
                Reason.VALIDATOR,
                ConfigHash.configHash(forbidden),
                refused.getMessage()));
    assertThat(client.status().rejected()).isEqualTo(2);
    assertThat(client.status().lastError()).isEqualTo(refused.getMessage());
    assertThat(client.current()).containsSame(running);
    assertThat(store.writesStarted()).isOne();
    assertThat(c.isCancelled()).isFalse();
  }

  @Test
  void validatorIsNotCalledForTheRunningHash() {
    List<String> validated = new CopyOnWriteArrayList<>();
    start(builder().validator(s -> validated.add(s.hash())));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    ObjectNode b = table("b");

    c.deliver(payload(a));
    awaitApplied(a);
    c.deliver(payload(a));
    c.deliver(payload(b));
    awaitApplied(b);

    assertThat(validated).containsExactly(ConfigHash.configHash(a), ConfigHash.configHash(b));
  }

  @Test
  void identicalHashIsSkipped() {
    start(builder());
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    ObjectNode b = table("b");

    c.deliver(payload(a));
    awaitApplied(a);
    // The second copy is handed to the (idle) pipeline at once; b waits behind it, so once b is
    // applied the copy has been dealt with.
    c.deliver(payload(a, 1_700_000_999.0)); // same table, another timestamp: same hash
    c.deliver(payload(b));
    awaitApplied(b);

    assertThat(snapshots)
        .extracting(ConfigSnapshot::hash)
        .containsExactly(ConfigHash.configHash(a), ConfigHash.configHash(b));
    assertThat(events(SyncEvent.SnapshotApplied.class)).hasSize(2);
    assertThat(store.writesStarted()).isEqualTo(2);
  }

  @Test
  void everyAppliedSnapshotCarriesItsChangesAgainstTheOneBefore() {
    start(builder());
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    ObjectNode b = table("a");
    ((ObjectNode) b.get("routes").get(0)).putArray("paths").add("/a2");
    b.withArray("services").addObject().put("name", "extra").put("host", "x");

    c.deliver(payload(a));
    awaitApplied(a);
    c.deliver(payload(b));
    awaitApplied(b);

    ConfigChanges first = snapshots.get(0).changes();
    assertThat(first.initial()).isTrue();
    assertThat(first.collections().get("services").added()).containsOnlyKeys("a");
    assertThat(first.replaced()).containsExactly("_format_version");
    ConfigChanges second = snapshots.get(1).changes();
    assertThat(second.initial()).isFalse();
    assertThat(second.collections()).containsOnlyKeys("services", "routes");
    assertThat(second.collections().get("services").added()).containsOnlyKeys("extra");
    assertThat(second.collections().get("routes").updated()).containsOnlyKeys("a-route");
    assertThat(second.replaced()).isEmpty();
    assertThat(second.entityCount()).isEqualTo(2);
  }

  /**
   * A validator sees a whole configuration's changes against the one running (so that a gateway can
   * build its next routing table in place while it validates), and the listener gets the same
   * changes, computed once.
   */
  @Test
  void aValidatorSeesAWholeConfigurationsChangesAgainstTheOneThatRuns() {
    List<ConfigChanges> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    start(builder().validator(s -> seen.add(s.changes())));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    ObjectNode b = table("a");
    ((ObjectNode) b.get("routes").get(0)).putArray("paths").add("/a2");

    c.deliver(payload(a));
    awaitApplied(a);
    c.deliver(payload(b));
    awaitApplied(b);

    assertThat(seen).hasSize(2);
    assertThat(seen.get(0).initial()).isTrue();
    assertThat(seen.get(1).initial()).isFalse();
    assertThat(seen.get(1).collections()).containsOnlyKeys("routes");
    assertThat(seen.get(1).collections().get("routes").updated()).containsOnlyKeys("a-route");
    assertThat(snapshots.get(1).changes()).isSameAs(seen.get(1));
  }

  @Test
  void changesAreAgainstWhatRanWhenAPendingConfigurationWasSuperseded() {
    start(builder().cacheWriteTimeout(CACHE_TIMEOUT));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    c.deliver(payload(a));
    awaitApplied(a);
    store.blockWrites();

    c.deliver(payload(table("b"))); // b's write hangs, then c supersedes it
    eventually().until(() -> store.writesStarted() == 2);
    ObjectNode cc = table("c");
    c.deliver(payload(cc));
    eventually().until(() -> scheduler.scheduledCount(CACHE_TIMEOUT) == 3);
    store.releaseWrites();
    awaitApplied(cc);

    ConfigChanges changes = snapshots.get(snapshots.size() - 1).changes();
    assertThat(changes.collections().get("services").removed()).containsOnlyKeys("a");
    assertThat(changes.collections().get("services").added()).containsOnlyKeys("c");
  }

  @Test
  void newerFrameWinsWhileOlderIsPending() {
    ConfigSyncClient client = start(builder().cacheWriteTimeout(CACHE_TIMEOUT));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    ObjectNode b = table("b");
    ObjectNode cc = table("c");
    byte[] payloadC = payload(cc);
    store.blockWrites();

    c.deliver(payload(a));
    eventually().until(() -> store.writesStarted() == 1); // a's write hangs
    c.deliver(payload(b));
    c.deliver(payloadC);
    // Each configuration that reaches the cache writer arms a write timeout; the third one is c's,
    // armed after b was abandoned.
    eventually().until(() -> scheduler.scheduledCount(CACHE_TIMEOUT) == 3);
    store.releaseWrites();

    awaitApplied(cc);
    assertThat(client.current().orElseThrow().hash()).isEqualTo(ConfigHash.configHash(cc));
    assertThat(store.bytes()).isEqualTo(payloadC);
    assertThat(store.writesStarted()).isEqualTo(2); // a and c: b's queued write was called off
    assertThat(snapshots)
        .extracting(ConfigSnapshot::hash)
        .containsExactly(ConfigHash.configHash(cc));
    assertThat(events(SyncEvent.SnapshotApplied.class))
        .extracting(SyncEvent.SnapshotApplied::hash)
        .containsExactly(ConfigHash.configHash(cc));
    assertThat(events(SyncEvent.CacheWritten.class))
        .extracting(SyncEvent.CacheWritten::hash)
        .doesNotContain(ConfigHash.configHash(b));
  }

  @Test
  void revertToTheRunningConfigurationWhileANewerOneIsPendingRewritesTheCacheButNotifiesNobody() {
    ConfigSyncClient client = start(builder().cacheWriteTimeout(CACHE_TIMEOUT));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    ObjectNode b = table("b");
    byte[] payloadA = payload(a);
    c.deliver(payloadA);
    awaitApplied(a);
    store.blockWrites();

    c.deliver(payload(b)); // b's write hangs
    eventually().until(() -> store.writesStarted() == 2);
    c.deliver(payloadA); // the control plane goes back to a
    eventually().until(() -> scheduler.scheduledCount(CACHE_TIMEOUT) == 3);
    store.releaseWrites();

    // The cache ends on a (what runs), and nobody is told about b or about a a second time.
    eventually().until(() -> store.writes() == 3);
    eventually().until(() -> java.util.Arrays.equals(store.bytes(), payloadA));
    assertThat(client.current().orElseThrow().hash()).isEqualTo(ConfigHash.configHash(a));
    assertThat(snapshots)
        .extracting(ConfigSnapshot::hash)
        .containsExactly(ConfigHash.configHash(a));
    assertThat(events(SyncEvent.SnapshotApplied.class)).hasSize(1);
  }

  @Test
  void cacheWriteFailureAppliesAnywayWithEvent() {
    ConfigSyncClient client = start(builder());
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    store.failNextWrite();

    c.deliver(payload(a));

    awaitApplied(a);
    String hash = ConfigHash.configHash(a);
    List<SyncEvent> relevant =
        events.stream()
            .filter(
                e ->
                    e instanceof SyncEvent.CacheWriteFailed
                        || e instanceof SyncEvent.CacheWritten
                        || e instanceof SyncEvent.SnapshotApplied)
            .toList();
    assertThat(relevant)
        .hasExactlyElementsOfTypes(
            SyncEvent.CacheWriteFailed.class, SyncEvent.SnapshotApplied.class);
    SyncEvent.CacheWriteFailed failed = (SyncEvent.CacheWriteFailed) relevant.get(0);
    assertThat(failed.hash()).isEqualTo(hash);
    assertThat(failed.reason()).contains("disk full");
    assertThat(client.current().orElseThrow().hash()).isEqualTo(hash);
    assertThat(store.bytes()).isNull();
  }

  @Test
  void cacheWriteTimeoutAppliesAnyway() {
    ConfigSyncClient client = start(builder().cacheWriteTimeout(CACHE_TIMEOUT));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    byte[] payloadA = payload(a);
    String hash = ConfigHash.configHash(a);
    store.blockWrites();

    c.deliver(payloadA);
    eventually()
        .until(() -> store.writesStarted() == 1 && scheduler.scheduledCount(CACHE_TIMEOUT) == 1);

    scheduler.advance(CACHE_TIMEOUT.minus(ONE_MILLI));
    assertThat(client.current()).isEmpty();
    assertThat(events(SyncEvent.CacheWriteFailed.class)).isEmpty();

    scheduler.advance(ONE_MILLI);
    awaitApplied(a);
    assertThat(events(SyncEvent.CacheWriteFailed.class))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.hash()).isEqualTo(hash);
              assertThat(f.reason()).contains("did not finish");
            });
    assertThat(events.indexOf(events(SyncEvent.CacheWriteFailed.class).get(0)))
        .isLessThan(events.indexOf(events(SyncEvent.SnapshotApplied.class).get(0)));
    assertThat(client.current().orElseThrow().hash()).isEqualTo(hash);

    // The late write still lands, and says so.
    store.releaseWrites();
    eventually().until(() -> !events(SyncEvent.CacheWritten.class).isEmpty());
    assertThat(store.bytes()).isEqualTo(payloadA);
    assertThat(snapshots).hasSize(1);
  }

  // ---- listeners and events ----------------------------------------------------------------

  @Test
  void throwingListenerDoesNotBreakSync() {
    List<ConfigSnapshot> heard = new CopyOnWriteArrayList<>();
    ConfigSyncClient client =
        start(
            builder()
                .onSnapshot(
                    s -> {
                      throw new IllegalStateException("listener bug (expected by the test)");
                    })
                .onSnapshot(heard::add)
                .onEvent(
                    e -> {
                      throw new IllegalStateException("event listener bug (expected)");
                    }));
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    ObjectNode b = table("b");

    c.deliver(payload(a));
    awaitApplied(a);
    c.deliver(payload(b));
    awaitApplied(b);

    eventually().until(() -> heard.size() == 2);
    assertThat(heard)
        .extracting(ConfigSnapshot::hash)
        .containsExactly(ConfigHash.configHash(a), ConfigHash.configHash(b));
    assertThat(events(SyncEvent.SnapshotApplied.class)).hasSize(2);
    eventually().until(() -> c.pings().contains(ConfigHash.configHash(b)));
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);
  }

  @Test
  void eventsArriveInOrder() {
    ConfigSyncClient client = start(builder());
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    c.deliver(payload(a));
    awaitApplied(a);
    eventually().until(() -> c.pings().size() == 2); // the apply is complete
    c.fail(new IOException("connection reset"));
    client.close();

    assertThat(events)
        .hasExactlyElementsOfTypes(
            SyncEvent.StartedEmpty.class,
            SyncEvent.Connecting.class,
            SyncEvent.Connected.class,
            SyncEvent.CacheWritten.class,
            SyncEvent.SnapshotApplied.class,
            SyncEvent.Disconnected.class,
            SyncEvent.Stopped.class);
    assertThat(((SyncEvent.Connected) events.get(2)).endpoint())
        .isEqualTo(URI.create("wss://cp.example.com:8005/v1/outlet"));
    assertThat(((SyncEvent.Disconnected) events.get(5)).reason())
        .isEqualTo("IOException: connection reset");
  }

  @Test
  void statusIsCurrentWhenListenersHearOfAnEvent() {
    AtomicReference<ConfigSyncClient> self = new AtomicReference<>();
    List<SyncStatus> statusAtEvent = new CopyOnWriteArrayList<>();
    ConfigSyncClient client =
        track(builder().onEvent(e -> statusAtEvent.add(self.get().status())).build());
    self.set(client);
    client.start();
    FakeConnection c = transport.last();
    c.open();
    c.deliver(gzipJson("{\"type\":\"basic_info\"}"));
    eventually().until(() -> !events(SyncEvent.SnapshotRejected.class).isEmpty());
    ObjectNode a = table("a");
    c.deliver(payload(a));
    awaitApplied(a);
    c.fail(new IOException("connection reset"));
    eventually().until(() -> !events(SyncEvent.Disconnected.class).isEmpty());

    assertThat(events)
        .hasExactlyElementsOfTypes(
            SyncEvent.StartedEmpty.class,
            SyncEvent.Connecting.class,
            SyncEvent.Connected.class,
            SyncEvent.SnapshotRejected.class,
            SyncEvent.CacheWritten.class,
            SyncEvent.SnapshotApplied.class,
            SyncEvent.Disconnected.class);
    assertThat(statusAtEvent).hasSameSizeAs(events);
    assertThat(statusAtEvent.get(0).state()).isEqualTo(SyncState.STARTING);
    assertThat(statusAtEvent.get(0).nodeId()).isEqualTo(NODE_ID);
    assertThat(statusAtEvent.get(1).state()).isEqualTo(SyncState.CONNECTING);
    assertThat(statusAtEvent.get(1).connectAttempts()).isOne();
    assertThat(statusAtEvent.get(2).state()).isEqualTo(SyncState.CONNECTED);
    assertThat(statusAtEvent.get(3).rejected()).isOne();
    assertThat(statusAtEvent.get(3).lastError())
        .isEqualTo(((SyncEvent.SnapshotRejected) events.get(3)).message());
    assertThat(statusAtEvent.get(5).hash()).isEqualTo(ConfigHash.configHash(a));
    assertThat(statusAtEvent.get(6).state()).isEqualTo(SyncState.WAITING_RETRY);
    assertThat(statusAtEvent.get(6).lastError()).isEqualTo("IOException: connection reset");
  }

  // ---- start-up ----------------------------------------------------------------------------

  @Test
  void startServesCachedConfigurationBeforeConnecting() {
    ObjectNode a = table("cached");
    String hash = ConfigHash.configHash(a);
    store.preload(payload(a));

    ConfigSyncClient client = start(builder());

    assertThat(transport.last().pings()).isEmpty(); // not open
    assertThat(client.current()).isPresent();
    ConfigSnapshot s = client.current().orElseThrow();
    assertThat(s.hash()).isEqualTo(hash);
    assertThat(s.source()).isEqualTo(SnapshotSource.CACHE);
    assertThat(s.config()).isEqualTo(a);
    assertThat(client.status().source()).isEqualTo(SnapshotSource.CACHE);
    assertThat(snapshots).containsExactly(s);
    assertThat(events)
        .hasExactlyElementsOfTypes(SyncEvent.SnapshotApplied.class, SyncEvent.Connecting.class);
    assertThat(store.writesStarted()).isZero(); // what came from the cache is not written back

    transport.last().open();
    assertThat(transport.last().pings()).containsExactly(hash); // the control plane learns it
  }

  @Test
  void damagedCacheIsMovedAsideAndStartupContinuesEmpty() {
    store.preload("garbage, not gzip".getBytes(UTF_8));

    ConfigSyncClient client = start(builder());

    assertThat(store.movedAsideReasons()).hasSize(1);
    assertThat(store.bytes()).isNull();
    assertThat(client.current()).isEmpty();
    assertThat(events)
        .hasExactlyElementsOfTypes(
            SyncEvent.CacheDamaged.class, SyncEvent.StartedEmpty.class, SyncEvent.Connecting.class);
    SyncEvent.CacheDamaged damaged = (SyncEvent.CacheDamaged) events.get(0);
    assertThat(damaged.movedTo()).isEqualTo("memory:config.json.gz.damaged-1");
    assertThat(damaged.reason()).contains("gzip");
    assertThat(transport.connectCount()).isOne();
  }

  @Test
  void aCacheThatIsNotValidJsonIsDamagedWithAReasonThatQuotesNoContent() {
    String secret = "s3cretCredentialValue";
    store.preload(
        Gzip.compress(
            ("{\"type\":\"reconfigure\",\"config_table\":{\"key\": " + secret + "}}")
                .getBytes(UTF_8)));

    start(builder());

    SyncEvent.CacheDamaged damaged = (SyncEvent.CacheDamaged) events.get(0);
    assertThat(damaged.reason())
        .contains("not valid JSON")
        .contains("Unrecognized token <" + secret.length() + " characters, not shown>")
        .contains("line 1, column")
        .doesNotContain(secret);
    assertThat(store.movedAsideReasons()).singleElement().asString().doesNotContain(secret);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  @Test
  void closeIsIdempotentStopsThreadsAndEmitsStopped() {
    // The client's own threads this time: a real timer and a listener thread.
    ConfigSyncClient client =
        track(
            ConfigSyncClient.builder()
                .controlPlane(CONTROL_PLANE)
                .transport(transport)
                .snapshotStore(store)
                .nodeHostname("dp-1")
                .onEvent(events::add)
                .onSnapshot(snapshots::add)
                .build());
    client.start();
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");
    c.deliver(payload(a));
    awaitApplied(a);
    assertThat(liveClientThreads()).isNotEmpty();

    client.close();
    client.close();

    assertThat(events).last().isInstanceOf(SyncEvent.Stopped.class);
    assertThat(events(SyncEvent.Stopped.class)).hasSize(1);
    assertThat(transport.closeCount()).isOne();
    assertThat(c.closeCode()).isEqualTo(1000);
    assertThat(client.status().state()).isEqualTo(SyncState.CLOSED);
    eventually().until(SyncLoopTest::liveClientThreads, List::isEmpty);
    assertThatThrownBy(client::start).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void closeFromAListenerOnADirectExecutorDoesNotDeadlock() {
    AtomicReference<ConfigSyncClient> self = new AtomicReference<>();
    List<ConfigSnapshot> heardByLater = new CopyOnWriteArrayList<>();
    // Listeners on a direct executor run inside the sync loop, on whichever thread runs it. Not
    // tracked for @AfterEach: if close() deadlocks, closing again would hang the test run.
    ConfigSyncClient client =
        builder().onSnapshot(s -> self.get().close()).onSnapshot(heardByLater::add).build();
    self.set(client);
    client.start();
    FakeConnection c = transport.last();
    c.open();
    ObjectNode a = table("a");

    assertTimeoutPreemptively(
        Duration.ofSeconds(10),
        () -> {
          c.deliver(payload(a));
          eventually().until(() -> !events(SyncEvent.Stopped.class).isEmpty());
        });

    assertThat(client.status().state()).isEqualTo(SyncState.CLOSED);
    assertThat(c.closeCode()).isEqualTo(1000);
    assertThat(transport.closeCount()).isOne();
    assertThat(heardByLater)
        .extracting(ConfigSnapshot::hash)
        .containsExactly(ConfigHash.configHash(a));
    assertThat(events)
        .last()
        .isInstanceOf(SyncEvent.Stopped.class); // after the SnapshotApplied under way
    assertThat(events(SyncEvent.SnapshotApplied.class)).hasSize(1);
    eventually().until(SyncLoopTest::liveClientThreads, List::isEmpty);
  }

  @Test
  void builderFailsFastWithMessagesNamingTheSetting() {
    assertThatThrownBy(() -> ConfigSyncClient.builder().transport(transport).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("controlPlane");
    assertThatThrownBy(() -> ConfigSyncClient.builder().controlPlane(CONTROL_PLANE).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("transport");
    assertThatThrownBy(
            () -> ConfigSyncClient.builder().controlPlane(URI.create("ws://cp.example.com:8005")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("controlPlane")
        .hasMessageContaining("wss://");
    assertThatThrownBy(
            () ->
                builder()
                    .heartbeatInterval(Duration.ofSeconds(30))
                    .deadAfter(Duration.ofSeconds(30))
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("deadAfter")
        .hasMessageContaining("heartbeatInterval");
    assertThatThrownBy(() -> builder().deadAfter(Duration.ofSeconds(10)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("deadAfter");
    assertThat(builder().nodeVersion("3.10.0-beta.1+build_7~x")).isNotNull();
    for (String bad :
        List.of(
            "3",
            "3.x",
            "3.10 ",
            "3.10.0\u001b[31m",
            "3.10.0\n",
            "3.10.0-a b",
            "3.10." + "0".repeat(64))) {
      assertThatThrownBy(() -> builder().nodeVersion(bad))
          .as("nodeVersion %s", bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("nodeVersion must look like MAJOR.MINOR[.PATCH]");
    }
    assertThatThrownBy(() -> builder().heartbeatInterval(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("heartbeatInterval");
    assertThatThrownBy(() -> builder().deadAfter(Duration.ofMillis(-5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("deadAfter");
    assertThatThrownBy(() -> builder().handshakeTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("handshakeTimeout");
    assertThatThrownBy(() -> builder().cacheWriteTimeout(Duration.ofSeconds(-10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cacheWriteTimeout");
    assertThatThrownBy(
            () -> builder().reconnectDelay(Duration.ofSeconds(-1), Duration.ofSeconds(10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("reconnectDelay");
    assertThatThrownBy(
            () -> builder().maxPayloadBytes(64 * 1024 * 1024).maxInflatedBytes(1024 * 1024).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("maxInflatedBytes")
        .hasMessageContaining("maxPayloadBytes");
  }

  @Test
  void awaitFirstSnapshotReturnsEmptyOnTimeoutAndSnapshotWhenAvailable()
      throws InterruptedException {
    ConfigSyncClient client = start(builder());
    FakeConnection c = transport.last();
    c.open();

    assertThat(client.awaitFirstSnapshot(Duration.ofMillis(20))).isEmpty();

    ObjectNode a = table("a");
    c.deliver(payload(a));
    Optional<ConfigSnapshot> first = client.awaitFirstSnapshot(Duration.ofSeconds(5));
    assertThat(first).isPresent();
    assertThat(first.orElseThrow().hash()).isEqualTo(ConfigHash.configHash(a));
  }

  /**
   * When awaitFirstSnapshot returns, the onSnapshot listeners have run: state they set (a routing
   * table) is in place. It used to return as soon as the loop applied the configuration, before the
   * listener thread had run them. The listener here waits for awaitFirstSnapshot to return (at most
   * a second), so a return before the listeners ran is seen every time.
   */
  @Test
  void awaitFirstSnapshotReturnsOnceTheOnSnapshotListenersHaveRun() throws Exception {
    java.util.concurrent.ExecutorService listenerThread =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      CountDownLatch returned = new CountDownLatch(1);
      AtomicReference<ConfigSnapshot> routes = new AtomicReference<>();
      ConfigSyncClient client =
          start(
              builder()
                  .listenerExecutor(listenerThread)
                  .onSnapshot(
                      snapshot -> {
                        try {
                          returned.await(1, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                          Thread.currentThread().interrupt();
                        }
                        routes.set(snapshot);
                      }));
      FakeConnection c = transport.last();
      c.open();
      ObjectNode a = table("a");
      c.deliver(payload(a));

      Optional<ConfigSnapshot> first = client.awaitFirstSnapshot(Duration.ofSeconds(30));
      ConfigSnapshot routesAtReturn = routes.get();
      returned.countDown();

      assertThat(first).isPresent();
      assertThat(routesAtReturn).as("routes.get() right after awaitFirstSnapshot").isNotNull();
      assertThat(routesAtReturn.hash()).isEqualTo(ConfigHash.configHash(a));
    } finally {
      listenerThread.shutdownNow();
    }
  }

  /**
   * Called from a listener, awaitFirstSnapshot cannot wait for the listeners (they run after the
   * caller returns): it returns once the configuration is applied, well before its timeout.
   */
  @Test
  void awaitFirstSnapshotCalledFromAListenerDoesNotWaitForItself() throws Exception {
    java.util.concurrent.ExecutorService listenerThread =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      AtomicReference<ConfigSyncClient> self = new AtomicReference<>();
      AtomicReference<Optional<ConfigSnapshot>> seen = new AtomicReference<>();
      ConfigSyncClient client =
          start(
              builder()
                  .listenerExecutor(listenerThread)
                  .onSnapshot(
                      snapshot -> {
                        try {
                          seen.set(self.get().awaitFirstSnapshot(Duration.ofSeconds(60)));
                        } catch (InterruptedException e) {
                          Thread.currentThread().interrupt();
                        }
                      }));
      self.set(client);
      FakeConnection c = transport.last();
      c.open();
      c.deliver(payload(table("a")));

      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(30)) // half the listener's own timeout
          .until(() -> seen.get() != null);
      assertThat(seen.get()).isPresent();
      assertThat(client.awaitFirstSnapshot(Duration.ofSeconds(30))).isPresent();
    } finally {
      listenerThread.shutdownNow();
    }
  }

  @Test
  void serverClosePromptsReconnectAndLateEventsFromOldConnectionAreIgnored() {
    ConfigSyncClient client = start(builder());
    FakeConnection old = transport.last();
    old.open();

    old.closeByPeer(1001, "going away");
    SyncEvent.Disconnected d = events(SyncEvent.Disconnected.class).get(0);
    assertThat(d.reason()).contains("1001").contains("going away");
    assertThat(client.status().state()).isEqualTo(SyncState.WAITING_RETRY);
    scheduler.advance(d.retryIn());
    assertThat(transport.connectCount()).isEqualTo(2);
    FakeConnection fresh = transport.last();
    fresh.open();
    int eventsBefore = events.size();

    // A misbehaving transport keeps talking on the old connection.
    old.open();
    old.deliver(payload(table("stale")));
    old.pong();
    old.closeByPeer(1000, "bye");
    old.fail(new IOException("late failure"));

    assertThat(events).hasSize(eventsBefore);
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);
    assertThat(fresh.isCancelled()).isFalse();
    assertThat(fresh.binaryFrames()).hasSize(1); // basic_info only
    assertThat(transport.connectCount()).isEqualTo(2);

    // Had the stale payload reached the pipeline, it would be applied before this one.
    ObjectNode b = table("b");
    fresh.deliver(payload(b));
    awaitApplied(b);
    assertThat(snapshots)
        .extracting(ConfigSnapshot::hash)
        .containsExactly(ConfigHash.configHash(b));
  }

  // ---- helpers -----------------------------------------------------------------------------

  private ConfigSyncClient.Builder builder() {
    return ConfigSyncClient.builder()
        .controlPlane(CONTROL_PLANE)
        .transport(transport)
        .snapshotStore(store)
        .nodeHostname("dp-1")
        .scheduler(scheduler)
        .random(new Random(42))
        .clock(Clock.fixed(Instant.parse("2024-06-01T12:00:00Z"), ZoneOffset.UTC))
        .listenerExecutor(Runnable::run)
        .onEvent(events::add)
        .onSnapshot(snapshots::add);
  }

  private ConfigSyncClient track(ConfigSyncClient client) {
    clients.add(client);
    return client;
  }

  private ConfigSyncClient start(ConfigSyncClient.Builder builder) {
    ConfigSyncClient client = track(builder.build());
    client.start();
    return client;
  }

  private FakeConnection startConnected(ConfigSyncClient.Builder builder) {
    start(builder);
    FakeConnection c = transport.last();
    c.open();
    return c;
  }

  /**
   * Runs a client to a first good configuration, delivers {@code bad}, and checks that it is
   * refused for {@code reason} while everything else goes on: the good configuration keeps running
   * and stays cached, the connection stays open, and a later good configuration applies.
   */
  private SyncEvent.SnapshotRejected assertRejectedKeepingLastGood(
      ConfigSyncClient.Builder builder, byte[] bad, Reason reason) {
    ConfigSyncClient client = start(builder);
    FakeConnection c = transport.last();
    c.open();
    ObjectNode good = table("good");
    byte[] goodPayload = payload(good);
    c.deliver(goodPayload);
    awaitApplied(good);
    ConfigSnapshot running = client.current().orElseThrow();

    c.deliver(bad);

    eventually().until(() -> !events(SyncEvent.SnapshotRejected.class).isEmpty());
    SyncEvent.SnapshotRejected rejected = events(SyncEvent.SnapshotRejected.class).get(0);
    assertThat(rejected.reason()).isEqualTo(reason);
    assertThat(rejected.source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(client.current()).containsSame(running);
    assertThat(snapshots).containsExactly(running);
    assertThat(store.writesStarted()).isOne();
    assertThat(store.bytes()).isEqualTo(goodPayload);
    assertThat(c.isCancelled()).isFalse();
    assertThat(c.closeCode()).isEqualTo(-1);
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);
    assertThat(client.status().rejected()).isOne(); // refreshed before the event went out
    assertThat(client.status().lastError()).isEqualTo(rejected.message());

    ObjectNode next = table("next");
    c.deliver(payload(next));
    awaitApplied(next); // the pipeline survived
    assertThat(transport.connectCount()).isOne();
    return rejected;
  }

  private void awaitApplied(JsonNode table) {
    String hash = ConfigHash.configHash(table);
    eventually()
        .until(
            () ->
                events(SyncEvent.SnapshotApplied.class).stream()
                    .anyMatch(e -> e.hash().equals(hash)));
  }

  private <T extends SyncEvent> List<T> events(Class<T> type) {
    return events.stream().filter(type::isInstance).map(type::cast).toList();
  }

  private static ConditionFactory eventually() {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(1));
  }

  private static List<String> liveClientThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(n -> n.startsWith("configsync-"))
        .toList();
  }

  private static ObjectNode table(String service) {
    ObjectNode t = MAPPER.createObjectNode();
    t.put("_format_version", "3.0");
    ObjectNode s = t.putArray("services").addObject();
    s.put("name", service);
    s.put("host", service + ".internal");
    s.put("port", 8080);
    ObjectNode r = t.putArray("routes").addObject();
    r.put("name", service + "-route");
    r.putArray("paths").add("/" + service);
    return t;
  }

  private static byte[] payload(JsonNode table) {
    return payload(table, 1_700_000_000.25);
  }

  private static byte[] payload(JsonNode table, double timestamp) {
    return HybridProtocol.reconfigure(table, timestamp);
  }

  private static byte[] gzipJson(String json) {
    return Gzip.compress(json.getBytes(UTF_8));
  }
}
