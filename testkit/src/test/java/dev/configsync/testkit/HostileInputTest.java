package dev.configsync.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.configsync.ConfigFileException;
import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.okhttp.OkHttpTransport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import okio.Buffer;
import okio.ByteString;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * Hostile input against a real data plane: a client with the OkHttp transport over mutual TLS to a
 * {@link TestControlPlane} on 127.0.0.1 and a {@link FileSnapshotStore} in a temporary directory
 * runs a good configuration; then the control plane, or a file given by hand, sends something
 * hostile. Every case must end with:
 *
 * <ul>
 *   <li>the documented outcome, naming the problem: a {@link SyncEvent.SnapshotRejected} with its
 *       reason (the connection stays open), or a close frame with the matching code and a {@link
 *       SyncEvent.Disconnected} (the node dials again), as {@code docs/protocol.md} says;
 *   <li>the good configuration still running, and still the one in {@code config.json.gz}, byte for
 *       byte, with nothing moved aside;
 *   <li>the node still taking the next good configuration;
 *   <li>bounded allocation on the pipeline thread, whatever size the hostile value claims;
 *   <li>after {@code close()}, no configsync thread and no file descriptor left behind.
 * </ul>
 *
 * <p>The cases are listed, with their outcomes, in {@code docs/security.md}.
 */
class HostileInputTest {
  private static final String GOOD =
      "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"good\",\"url\":\"http://good:8080\"}]}";
  private static final String NEXT =
      "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"next\",\"url\":\"http://next:8080\"}]}";
  private static final String GOOD_HASH = ConfigHash.configHash(json(GOOD));

  /**
   * The most the pipeline thread may allocate while refusing one hostile payload. The largest
   * hostile value below claims 100 MB; the parser's string limit must stop it well before that.
   */
  private static final long ALLOCATION_BOUND = 48L * 1024 * 1024;

  private static TestPki pki;
  private static TestControlPlane cp;

  @TempDir Path dir;

  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private Set<Thread> threadsBefore = Set.of();
  private Map<String, String> descriptorsBefore = Map.of();

  @BeforeAll
  static void startControlPlane() {
    pki = TestPki.create();
    cp = TestControlPlane.start(pki);
  }

  @AfterAll
  static void stopControlPlane() {
    cp.close();
  }

  @BeforeEach
  void recordThreadsAndDescriptors() {
    cp.publish(GOOD);
    threadsBefore = configsyncThreads();
    descriptorsBefore = openDescriptors();
  }

  @AfterEach
  void closeAndCheckForLeaks() {
    clients.forEach(ConfigSyncClient::close);
    // Sockets close on their own threads after the close handshake: give them a moment.
    eventually()
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(20))
        .untilAsserted(
            () -> {
              Set<Thread> left = new HashSet<>(configsyncThreads());
              left.removeAll(threadsBefore);
              assertThat(left).as("configsync threads left after close()").isEmpty();
              assertThat(newDescriptors())
                  .as("file descriptors left after close() (fd -> target)")
                  .isEmpty();
            });
  }

  // ---- the cases ----------------------------------------------------------------------------

  /** What the data plane must do with a hostile frame. */
  sealed interface Outcome {}

  /** A {@code SnapshotRejected} with this reason and a message with these parts; stays open. */
  record Refused(Reason reason, List<String> says) implements Outcome {}

  /** A close frame with this code; a {@code Disconnected} whose reason has these parts. */
  record Closed(int code, List<String> says) implements Outcome {}

  /** Not an error: answered by a pong with the same payload; stays open. */
  record Ponged(ByteString payload) implements Outcome {}

  /** One hostile input from the control plane. */
  record Case(
      String name,
      UnaryOperator<ConfigSyncClient.Builder> settings,
      Consumer<TestControlPlane> send,
      Outcome outcome) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Case refused(
      String name, Consumer<TestControlPlane> send, Reason reason, String... says) {
    return new Case(name, b -> b, send, new Refused(reason, List.of(says)));
  }

  private static Case closed(
      String name, Consumer<TestControlPlane> send, int code, String... says) {
    return new Case(name, b -> b, send, new Closed(code, List.of(says)));
  }

  private static Consumer<TestControlPlane> payload(byte[] bytes) {
    return control -> control.sendRaw(bytes);
  }

  private static Consumer<TestControlPlane> gzipped(String message) {
    return payload(Gzip.compress(message.getBytes(UTF_8)));
  }

  private static Consumer<TestControlPlane> wire(int... bytes) {
    byte[] out = new byte[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      out[i] = (byte) bytes[i];
    }
    return control -> control.sendBytes(out);
  }

  static Stream<Case> controlPlaneCases() {
    String table = "{\"services\":[{\"name\":\"evil\"}]}";
    byte[] next = reconfigure(NEXT, ConfigHash.configHash(json(NEXT)));
    return Stream.of(
        // ---- size and compression
        new Case(
            "frame over the size cap",
            b -> b.maxPayloadBytes(64 * 1024),
            payload(new byte[64 * 1024 + 1]),
            new Closed(
                1009, List.of("binary frame declares 65537 payload bytes", "limit is 65536"))),
        closed(
            "frame header claiming 2^62 bytes, none following",
            wire(0x82, 127, 0x40, 0, 0, 0, 0, 0, 0, 0),
            1009,
            "declares 4611686018427387904 payload bytes",
            "limit is 16777216"),
        refused(
            "decompression bomb: 300 MB of whitespace in 291 KB of gzip",
            payload(
                gzipStream(
                    "{\"type\":\"reconfigure\",\"config_table\":{", ' ', 300_000_000L, "}}")),
            Reason.INFLATED_TOO_LARGE,
            "inflates to more than 268435456 bytes"),
        refused(
            "truncated gzip",
            payload(Arrays.copyOf(next, next.length / 2)),
            Reason.BAD_GZIP,
            "truncated"),
        refused(
            "gzip without its trailer",
            payload(Arrays.copyOf(next, next.length - 8)),
            Reason.BAD_GZIP,
            "truncated"),
        refused("gzip with a wrong CRC", payload(flip(next, next.length - 8)), Reason.BAD_GZIP),
        refused(
            "gzip with a corrupt header",
            payload(flip(next, 2)),
            Reason.BAD_GZIP,
            "Unsupported compression method"),
        refused(
            "plain JSON, not gzip",
            payload(reconfigureJson(NEXT, null).getBytes(UTF_8)),
            Reason.BAD_GZIP,
            "Not in GZIP format"),
        refused("empty binary frame", payload(new byte[0]), Reason.BAD_GZIP, "truncated"),
        // ---- JSON
        refused(
            "invalid UTF-8 in a string",
            payload(
                Gzip.compress(
                    concat(
                        "{\"type\":\"reconfigure\",\"config_table\":{\"name\":\"",
                        new byte[] {(byte) 0xc3, 0x28},
                        "\"}}"))),
            Reason.BAD_JSON,
            "Invalid UTF-8"),
        refused(
            "JSON nested 10,000 deep",
            gzipped(
                "{\"type\":\"reconfigure\",\"config_table\":{\"deep\":"
                    + "[".repeat(10_000)
                    + "]".repeat(10_000)
                    + "}}"),
            Reason.BAD_JSON,
            "nesting depth",
            "exceeds the maximum allowed (1000"),
        refused(
            "a 100 MB string",
            payload(
                gzipStream(
                    "{\"type\":\"reconfigure\",\"config_table\":{\"big\":\"",
                    'a',
                    100_000_000L,
                    "\"}}")),
            Reason.BAD_JSON,
            "String value length",
            "exceeds the maximum allowed (16777216"),
        refused(
            "a number literal of a million digits",
            payload(
                gzipStream(
                    "{\"type\":\"reconfigure\",\"config_table\":{\"n\":", '7', 1_000_000L, "}}")),
            Reason.BAD_JSON,
            "Number value length",
            "exceeds the maximum allowed (1000"),
        refused(
            "a number literal of 100 million digits",
            payload(
                gzipStream(
                    "{\"type\":\"reconfigure\",\"config_table\":{\"n\":", '7', 100_000_000L, "}}")),
            Reason.BAD_JSON,
            "value length",
            "exceeds the maximum allowed"),
        refused(
            "duplicate keys",
            gzipped("{\"type\":\"reconfigure\",\"config_table\":{\"a\":1,\"a\":2}}"),
            Reason.BAD_JSON,
            "Duplicate field 'a'"),
        refused(
            "two JSON values in one message",
            gzipped(reconfigureJson(NEXT, null) + reconfigureJson(NEXT, null)),
            Reason.BAD_JSON,
            "Trailing token"),
        // ---- the message
        refused(
            "wrong JSON type: the message is an array",
            gzipped("[" + reconfigureJson(NEXT, null) + "]"),
            Reason.BAD_MESSAGE,
            "message is not a JSON object"),
        refused(
            "wrong JSON type: type is a number",
            gzipped("{\"type\":7,\"config_table\":" + table + "}"),
            Reason.BAD_MESSAGE,
            "message type is a JSON number"),
        refused(
            "wrong JSON type: config_table is a string",
            gzipped("{\"type\":\"reconfigure\",\"config_table\":\"services: []\"}"),
            Reason.BAD_MESSAGE,
            "config_table is \"services: []\", expected an object"),
        refused(
            "wrong JSON type: config_table is an array",
            gzipped("{\"type\":\"reconfigure\",\"config_table\":[" + table + "]}"),
            Reason.BAD_MESSAGE,
            "config_table is a JSON array"),
        refused(
            "wrong JSON type: config_hash is a number",
            gzipped("{\"type\":\"reconfigure\",\"config_table\":" + table + ",\"config_hash\":1}"),
            Reason.BAD_MESSAGE,
            "config_hash is a JSON number"),
        refused(
            "config_hash in upper case",
            gzipped(
                reconfigureJson(
                    NEXT, ConfigHash.configHash(json(NEXT)).toUpperCase(java.util.Locale.ROOT))),
            Reason.BAD_MESSAGE,
            "expected 32 lowercase hex characters"),
        refused(
            "unknown message type",
            gzipped("{\"type\":\"telemetry\",\"config_table\":" + table + "}"),
            Reason.BAD_MESSAGE,
            "message type is \"telemetry\", expected \"reconfigure\""),
        refused(
            "hash mismatch",
            gzipped(reconfigureJson(table, GOOD_HASH)),
            Reason.HASH_MISMATCH,
            "config_hash " + GOOD_HASH + " does not match the content"),
        // ---- frames
        closed(
            "text frame",
            control ->
                control.sendFrame(
                    FrameType.TEXT, ByteString.encodeUtf8(reconfigureJson(NEXT, null))),
            1003,
            "text frame"),
        closed(
            "text frame that is not UTF-8",
            wire(0x81, 2, 0xc3, 0x28),
            1007,
            "text frame payload is not valid UTF-8"),
        new Case(
            "ping with a 7-byte payload",
            b -> b,
            control -> control.sendFrame(FrameType.PING, ByteString.encodeUtf8("7 bytes")),
            new Ponged(ByteString.encodeUtf8("7 bytes"))),
        new Case(
            "ping without a payload",
            b -> b,
            control -> control.sendFrame(FrameType.PING, ByteString.EMPTY),
            new Ponged(ByteString.EMPTY)),
        new Case(
            "ping with 125 bytes, the most a control frame holds",
            b -> b,
            control -> control.sendFrame(FrameType.PING, repeat('p', 125)),
            new Ponged(repeat('p', 125))),
        closed(
            "ping with 126 bytes",
            control -> control.sendBytes(frame(0x89, repeat('p', 126))),
            1002,
            "ping frame declares 126 payload bytes",
            "at most 125"),
        closed(
            "reserved bit set",
            control -> control.sendBytes(frame(0xc2, ByteString.of(next))),
            1002,
            "reserved bits set"),
        closed(
            "fragmented message",
            control -> control.sendBytes(frame(0x02, ByteString.of(next))),
            1002,
            "fragmented message"),
        closed("continuation frame", wire(0x80, 1, 0), 1002, "continuation frame"),
        closed("reserved opcode", wire(0x83, 0), 1002, "reserved opcode 0x3"),
        closed(
            "masked frame from the server",
            wire(0x82, 0x81, 1, 2, 3, 4, 5),
            1002,
            "masked frame from a server"),
        closed(
            "close frame with a code that may not be sent",
            wire(0x88, 2, 0x03, 0xed),
            1002,
            "close code 1005 is not allowed"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("controlPlaneCases")
  void hostileFrameFromTheControlPlane(Case c) throws Exception {
    Node node = startWithGoodConfiguration(c.settings());
    Path cache = node.cacheDir().resolve("config.json.gz");
    byte[] cached = Files.readAllBytes(cache);
    int connections = cp.connectionCount();
    int mark = events.size();
    Thread pipeline = newThread("configsync-pipeline");
    long allocatedBefore = allocatedBytes(pipeline);

    c.send().accept(cp);

    if (c.outcome() instanceof Refused refused) {
      SyncEvent.SnapshotRejected rejected = awaitEvent(SyncEvent.SnapshotRejected.class, mark);
      assertThat(rejected.reason()).isEqualTo(refused.reason());
      assertThat(rejected.source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
      refused.says().forEach(part -> assertThat(rejected.message()).contains(part));
      assertThat(node.client().status().rejected()).isOne();
      assertThat(node.client().status().lastError()).isEqualTo(rejected.message());
    } else if (c.outcome() instanceof Closed closed) {
      SyncEvent.Disconnected disconnected = awaitEvent(SyncEvent.Disconnected.class, mark);
      closed.says().forEach(part -> assertThat(disconnected.reason()).contains(part));
      eventually()
          .until(
              () -> cp.closeFramesReceived().stream().anyMatch(f -> f.nodeId().equals(node.id())));
      assertThat(cp.closeFramesReceived())
          .filteredOn(f -> f.nodeId().equals(node.id()))
          .extracting(TestControlPlane.CloseFrame::code)
          .containsExactly(closed.code());
      // It dials again, and the control plane's latest (the good one) is skipped as running.
      eventually()
          .until(
              () ->
                  cp.connectionCount() > connections
                      && node.client().status().state() == SyncState.CONNECTED);
    } else if (c.outcome() instanceof Ponged ponged) {
      eventually().until(() -> cp.pongs(node.id()).contains(ponged.payload()));
    }
    long allocated = allocatedBytes(pipeline) - allocatedBefore;

    assertThat(node.client().current()).map(ConfigSnapshot::hash).contains(GOOD_HASH);
    assertThat(Files.readAllBytes(cache)).isEqualTo(cached);
    assertThat(fileNames(node.cacheDir())).containsExactlyInAnyOrder("config.json.gz", "node.id");
    assertThat(events(SyncEvent.SnapshotApplied.class, mark)).isEmpty();
    if (!(c.outcome() instanceof Closed)) {
      assertThat(events(SyncEvent.Disconnected.class, mark)).isEmpty();
      assertThat(events(SyncEvent.SnapshotRejected.class, mark))
          .hasSize(c.outcome() instanceof Refused ? 1 : 0);
    }
    LoggerFactory.getLogger(HostileInputTest.class)
        .info("{}: the pipeline thread allocated {} KiB", c, allocated / 1024);
    assertThat(allocated)
        .as("bytes the pipeline thread allocated while refusing it")
        .isLessThan(ALLOCATION_BOUND);

    // The node is none the worse: it takes the next configuration, on the same connection unless
    // it had to close it.
    int connectionsNow = cp.connectionCount();
    String next = cp.publish(NEXT);
    eventually()
        .until(() -> node.client().current().map(ConfigSnapshot::hash).equals(Optional.of(next)));
    assertThat(cp.connectionCount()).isEqualTo(connectionsNow);
    if (!(c.outcome() instanceof Closed)) {
      assertThat(connectionsNow).isEqualTo(connections);
    }
  }

  // ---- files given by hand ------------------------------------------------------------------

  /** Hostile declarative files: refused with the file, line and column. */
  enum HostileFile {
    YAML_ALIAS_BOMB("bomb.yml", billionLaughs(), 2, 10, "YAML aliases (*l0) are not supported"),
    YAML_MERGE_KEY_ALIAS(
        "merge.yml",
        "base: &base {retries: 5}\nservices:\n  - <<: *base\n    name: a\n",
        3,
        9,
        "YAML aliases (*base) are not supported"),
    YAML_DUPLICATE_KEYS(
        "dup.yml", "services: []\nroutes: []\nservices: [{name: a}]\n", 3, 9, "services"),
    YAML_NESTED_TOO_DEEP(
        "deep.yml", "a: " + "[".repeat(200) + "]".repeat(200) + "\n", 1, 103, "nesting deeper"),
    // The field's name is not quoted back: JSON messages never repeat quoted content (it could be a
    // secret); its length and the position say where it is.
    JSON_DUPLICATE_KEYS(
        "dup.json",
        "{\"services\":[],\n\"services\":[]}",
        2,
        11,
        "Duplicate field <8 characters, not shown>"),
    JSON_NESTED_10000_DEEP(
        "deep.json",
        "{\"a\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}",
        1,
        1006,
        "nesting depth");

    final String fileName;
    final String content;
    final int line;
    final int column;
    final String says;

    HostileFile(String fileName, String content, int line, int column, String says) {
      this.fileName = fileName;
      this.content = content;
      this.line = line;
      this.column = column;
      this.says = says;
    }

    Path writeTo(Path directory) throws IOException {
      return Files.writeString(directory.resolve(fileName), content);
    }

    void assertNamedIn(ConfigFileException e, Path file) {
      assertThat(e.file()).isEqualTo(file);
      assertThat(e.line()).isEqualTo(line);
      assertThat(e.column()).isEqualTo(column);
      assertThat(e.getMessage()).startsWith(file + ":" + line + ":" + column + ": ").contains(says);
    }

    private static String billionLaughs() {
      // 9 levels of 9 aliases: 9^9 (387 million) strings if they were expanded.
      StringBuilder yaml = new StringBuilder("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol]\n");
      for (int level = 1; level <= 9; level++) {
        yaml.append('l').append(level).append(": &l").append(level).append(" [");
        yaml.append(String.join(", ", Collections.nCopies(9, "*l" + (level - 1))));
        yaml.append("]\n");
      }
      return yaml.toString();
    }
  }

  @ParameterizedTest
  @EnumSource(HostileFile.class)
  void hostileManualLoadIsRefusedAndChangesNothing(HostileFile hostile) throws Exception {
    Node node = startWithGoodConfiguration(b -> b);
    Path cache = node.cacheDir().resolve("config.json.gz");
    byte[] cached = Files.readAllBytes(cache);
    int connections = cp.connectionCount();
    int mark = events.size();
    Path file = hostile.writeTo(Files.createDirectories(dir.resolve("by-hand")));

    // Forced, so that only the file can be the reason for a refusal.
    ConfigFileException e =
        catchThrowableOfType(ConfigFileException.class, () -> node.client().loadManual(file, true));

    hostile.assertNamedIn(e, file);
    SyncEvent.SnapshotRejected rejected = awaitEvent(SyncEvent.SnapshotRejected.class, mark);
    assertThat(rejected.source()).isEqualTo(SnapshotSource.MANUAL);
    assertThat(rejected.reason()).isEqualTo(Reason.BAD_FILE);
    assertThat(rejected.message()).isEqualTo(e.getMessage());
    assertThat(node.client().current()).map(ConfigSnapshot::hash).contains(GOOD_HASH);
    assertThat(node.client().status().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
    assertThat(Files.readAllBytes(cache)).isEqualTo(cached);
    assertThat(fileNames(node.cacheDir())).containsExactlyInAnyOrder("config.json.gz", "node.id");
    assertThat(events(SyncEvent.Disconnected.class, mark)).isEmpty();
    assertThat(cp.connectionCount()).isEqualTo(connections);
    assertThat(node.client().status().state()).isEqualTo(SyncState.CONNECTED);
  }

  @ParameterizedTest
  @EnumSource(HostileFile.class)
  void hostileFallbackIsRefusedAndTheNodeStartsEmptyLoudly(HostileFile hostile) throws Exception {
    Path file = hostile.writeTo(Files.createDirectories(dir.resolve("etc")));
    Node node = node(b -> b.fallbackConfig(file));

    node.client().start();

    SyncEvent.SnapshotRejected rejected = awaitEvent(SyncEvent.SnapshotRejected.class, 0);
    assertThat(rejected.source()).isEqualTo(SnapshotSource.FALLBACK);
    assertThat(rejected.reason()).isEqualTo(Reason.BAD_FILE);
    assertThat(rejected.message())
        .startsWith(file + ":" + hostile.line + ":" + hostile.column + ": ")
        .contains(hostile.says);
    SyncEvent.StartedEmpty empty = awaitEvent(SyncEvent.StartedEmpty.class, 0);
    assertThat(empty.reason()).contains("no usable fallback configuration");
    // Then the control plane's configuration, the only one ever applied or cached.
    assertThat(awaitEvent(SyncEvent.SnapshotApplied.class, 0).hash()).isEqualTo(GOOD_HASH);
    assertThat(node.client().current()).map(ConfigSnapshot::hash).contains(GOOD_HASH);
    assertThat(events(SyncEvent.SnapshotApplied.class, 0))
        .extracting(SyncEvent.SnapshotApplied::source)
        .containsExactly(SnapshotSource.CONTROL_PLANE);
    assertThat(events(SyncEvent.CacheWritten.class, 0))
        .extracting(SyncEvent.CacheWritten::hash)
        .containsOnly(GOOD_HASH);
    assertThat(events.indexOf(rejected)).isLessThan(events.indexOf(empty));
  }

  // ---- the node -----------------------------------------------------------------------------

  /** A started client, its cache directory and its node id. */
  private record Node(ConfigSyncClient client, Path cacheDir) {
    String id() {
      return client.status().nodeId().toString();
    }
  }

  private Node node(UnaryOperator<ConfigSyncClient.Builder> settings) throws IOException {
    Path cacheDir = dir.resolve("cache");
    ConfigSyncClient client =
        settings
            .apply(
                ConfigSyncClient.builder()
                    .controlPlane(cp.uri())
                    .transport(OkHttpTransport.create(pki.dataPlaneTls()))
                    .snapshotStore(FileSnapshotStore.open(cacheDir))
                    // The default heartbeat (30 s): no liveness verdict can race a case.
                    .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(100))
                    .onEvent(events::add))
            .build();
    clients.add(client);
    return new Node(client, cacheDir);
  }

  private Node startWithGoodConfiguration(UnaryOperator<ConfigSyncClient.Builder> settings)
      throws IOException {
    Node node = node(settings);
    node.client().start();
    eventually()
        .until(
            () ->
                events(SyncEvent.CacheWritten.class, 0).stream()
                    .anyMatch(w -> w.hash().equals(GOOD_HASH)));
    eventually()
        .until(
            () -> node.client().current().map(ConfigSnapshot::hash).equals(Optional.of(GOOD_HASH)));
    // The ping after the apply: the control plane has heard of it, nothing is still in flight.
    eventually().until(() -> cp.lastReportedHash(node.id()).equals(Optional.of(GOOD_HASH)));
    return node;
  }

  private <T extends SyncEvent> List<T> events(Class<T> type, int from) {
    List<SyncEvent> all = List.copyOf(events);
    return all.subList(Math.min(from, all.size()), all.size()).stream()
        .filter(type::isInstance)
        .map(type::cast)
        .toList();
  }

  private <T extends SyncEvent> T awaitEvent(Class<T> type, int from) {
    eventually().until(() -> !events(type, from).isEmpty());
    return events(type, from).get(0);
  }

  /** Polls often: each case waits for several things, and 100 ms polls would double its time. */
  private static ConditionFactory eventually() {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(5));
  }

  // ---- payloads -----------------------------------------------------------------------------

  private static com.fasterxml.jackson.databind.JsonNode json(String text) {
    try {
      return dev.configsync.internal.Json.readFrozen(text.getBytes(UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String reconfigureJson(String table, String hash) {
    return "{\"type\":\"reconfigure\",\"timestamp\":1700000000.5,\"config_table\":"
        + table
        + (hash == null ? "" : ",\"config_hash\":\"" + hash + "\"")
        + "}";
  }

  private static byte[] reconfigure(String table, String hash) {
    return Gzip.compress(reconfigureJson(table, hash).getBytes(UTF_8));
  }

  /** gzip of {@code head}, then {@code count} times {@code fill}, then {@code tail}, streamed. */
  private static byte[] gzipStream(String head, char fill, long count, String tail) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out, 64 * 1024)) {
      gz.write(head.getBytes(UTF_8));
      byte[] chunk = new byte[1 << 20];
      Arrays.fill(chunk, (byte) fill);
      for (long left = count; left > 0; left -= chunk.length) {
        gz.write(chunk, 0, (int) Math.min(chunk.length, left));
      }
      gz.write(tail.getBytes(UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  private static byte[] concat(String head, byte[] middle, String tail) {
    Buffer buffer = new Buffer().writeUtf8(head).write(middle).writeUtf8(tail);
    return buffer.readByteArray();
  }

  private static byte[] flip(byte[] bytes, int index) {
    byte[] copy = bytes.clone();
    copy[index] ^= 0x55;
    return copy;
  }

  private static ByteString repeat(char c, int count) {
    return ByteString.encodeUtf8(String.valueOf(c).repeat(count));
  }

  /** An unmasked server frame with this first header byte, its length in the shortest form. */
  private static byte[] frame(int firstByte, ByteString payload) {
    Buffer buffer = new Buffer().writeByte(firstByte);
    int length = payload.size();
    if (length <= 125) {
      buffer.writeByte(length);
    } else if (length <= 0xffff) {
      buffer.writeByte(126).writeShort(length);
    } else {
      buffer.writeByte(127).writeLong(length);
    }
    return buffer.write(payload).readByteArray();
  }

  // ---- leaks --------------------------------------------------------------------------------

  private static Set<Thread> configsyncThreads() {
    Set<Thread> threads = new HashSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("configsync-") && t.isAlive()) {
        threads.add(t);
      }
    }
    return threads;
  }

  /** The one thread of this name started since the test began, if there is one. */
  private Thread newThread(String name) {
    List<Thread> found = new ArrayList<>();
    for (Thread t : configsyncThreads()) {
      if (t.getName().equals(name) && !threadsBefore.contains(t)) {
        found.add(t);
      }
    }
    assertThat(found).as("new threads named " + name).hasSize(1);
    return found.get(0);
  }

  private static long allocatedBytes(Thread thread) {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long bytes = threads.getThreadAllocatedBytes(thread.getId());
    assertThat(bytes).as("allocation of " + thread.getName() + " (still alive)").isNotNegative();
    return bytes;
  }

  /** Open file descriptors (fd number to target), or nothing where /proc is not there. */
  private static Map<String, String> openDescriptors() {
    Path fds = Path.of("/proc/self/fd");
    Map<String, String> open = new HashMap<>();
    if (!Files.isDirectory(fds)) {
      return open;
    }
    try (Stream<Path> list = Files.list(fds)) {
      for (Path fd : (Iterable<Path>) list::iterator) {
        try {
          open.put(fd.getFileName().toString(), Files.readSymbolicLink(fd).toString());
        } catch (IOException closedMeanwhile) {
          // the descriptor of the listing itself, or one closed while listing
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return open;
  }

  /**
   * Descriptors opened since the test began and still open, but for jar files (the class loader
   * opens each jar once, on first use, and keeps it) and the one that lists them.
   */
  private Map<String, String> newDescriptors() {
    Map<String, String> now = openDescriptors();
    now.entrySet()
        .removeIf(
            e ->
                e.getValue().equals(descriptorsBefore.get(e.getKey()))
                    || e.getValue().endsWith(".jar")
                    || e.getValue().startsWith("/proc/")); // the listing's own descriptor
    return now;
  }

  private static List<String> fileNames(Path directory) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return files.map(p -> p.getFileName().toString()).toList();
    }
  }
}
