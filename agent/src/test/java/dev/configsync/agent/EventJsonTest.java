package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigRejectedException;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class EventJsonTest {
  private static final Instant T = Instant.parse("2026-03-01T12:00:00Z");
  private static final String TIME = "\"time\":\"2026-03-01T12:00:00Z\"";
  private static final URI CP = URI.create("wss://cp.example.com:8005/v1/outlet");
  private static final String H1 = "0123456789abcdef0123456789abcdef";
  private static final String H2 = "fedcba9876543210fedcba9876543210";

  @Test
  void eventJsonIsSnakeCase() {
    assertThat(EventJson.line(new SyncEvent.Connecting(T, CP, 2)))
        .isEqualTo(
            "{\"event\":\"connecting\",\"endpoint\":\"wss://cp.example.com:8005/v1/outlet\","
                + "\"attempt\":2,"
                + TIME
                + "}");
    assertThat(EventJson.line(new SyncEvent.Connected(T, CP)))
        .isEqualTo(
            "{\"event\":\"connected\",\"endpoint\":\"wss://cp.example.com:8005/v1/outlet\","
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new SyncEvent.Disconnected(T, "connection refused", Duration.ofMillis(5300))))
        .isEqualTo(
            "{\"event\":\"disconnected\",\"reason\":\"connection refused\","
                + "\"retry_in\":\"PT5.3S\",\"retry_in_ms\":5300,"
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new SyncEvent.SnapshotApplied(T, H1, SnapshotSource.CONTROL_PLANE, null)))
        .isEqualTo(
            "{\"event\":\"snapshot_applied\",\"hash\":\""
                + H1
                + "\",\"source\":\"control_plane\",\"delta\":false,"
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new SyncEvent.SnapshotApplied(T, H2, SnapshotSource.CONTROL_PLANE, H1, true, 3)))
        .isEqualTo(
            "{\"event\":\"snapshot_applied\",\"hash\":\""
                + H2
                + "\",\"source\":\"control_plane\",\"previous_hash\":\""
                + H1
                + "\",\"delta\":true,\"entities_changed\":3,"
                + TIME
                + "}");
    assertThat(EventJson.line(new SyncEvent.SnapshotApplied(T, H2, SnapshotSource.CACHE, H1)))
        .isEqualTo(
            "{\"event\":\"snapshot_applied\",\"hash\":\""
                + H2
                + "\",\"source\":\"cache\",\"previous_hash\":\""
                + H1
                + "\",\"delta\":false,"
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new SyncEvent.SnapshotRejected(
                    T,
                    H1,
                    SnapshotSource.CONTROL_PLANE,
                    ConfigRejectedException.Reason.HASH_MISMATCH,
                    "config_hash does not match")))
        .isEqualTo(
            "{\"event\":\"snapshot_rejected\",\"hash\":\""
                + H1
                + "\",\"source\":\"control_plane\",\"reason\":\"hash_mismatch\","
                + "\"message\":\"config_hash does not match\","
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new SyncEvent.SnapshotRejected(
                    T,
                    null,
                    SnapshotSource.CONTROL_PLANE,
                    ConfigRejectedException.Reason.BAD_GZIP,
                    "truncated")))
        .isEqualTo(
            "{\"event\":\"snapshot_rejected\",\"source\":\"control_plane\","
                + "\"reason\":\"bad_gzip\",\"message\":\"truncated\","
                + TIME
                + "}");
    assertThat(EventJson.line(new SyncEvent.CacheWritten(T, H1, 1234)))
        .isEqualTo(
            "{\"event\":\"cache_written\",\"hash\":\"" + H1 + "\",\"bytes\":1234," + TIME + "}");
    assertThat(EventJson.line(new SyncEvent.CacheWriteFailed(T, H1, "disk full")))
        .isEqualTo(
            "{\"event\":\"cache_write_failed\",\"hash\":\""
                + H1
                + "\",\"reason\":\"disk full\","
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new SyncEvent.CacheDamaged(T, "bad gzip", "/var/lib/cs/config.json.gz.broken-1")))
        .isEqualTo(
            "{\"event\":\"cache_damaged\",\"reason\":\"bad gzip\","
                + "\"moved_to\":\"/var/lib/cs/config.json.gz.broken-1\","
                + TIME
                + "}");
    assertThat(EventJson.line(new SyncEvent.StartedEmpty(T, "no cached configuration")))
        .isEqualTo(
            "{\"event\":\"started_empty\",\"reason\":\"no cached configuration\"," + TIME + "}");
    assertThat(EventJson.line(new SyncEvent.Stopped(T)))
        .isEqualTo("{\"event\":\"stopped\"," + TIME + "}");
  }

  @Test
  void agentEventsFollowTheSameRules() {
    Path path = Path.of("/etc/gateway/config.json");
    assertThat(EventJson.line(new AgentEvent.OutputWritten(T, H1, path)))
        .isEqualTo(
            "{\"event\":\"output_written\",\"hash\":\""
                + H1
                + "\",\"path\":\"/etc/gateway/config.json\","
                + TIME
                + "}");
    assertThat(EventJson.line(new AgentEvent.OutputFailed(T, H1, path, "AccessDeniedException")))
        .isEqualTo(
            "{\"event\":\"output_failed\",\"hash\":\""
                + H1
                + "\",\"path\":\"/etc/gateway/config.json\",\"reason\":\"AccessDeniedException\","
                + TIME
                + "}");
    assertThat(EventJson.line(new AgentEvent.OnChangeFinished(T, H1, 0, Duration.ofMillis(42))))
        .isEqualTo(
            "{\"event\":\"on_change_finished\",\"hash\":\""
                + H1
                + "\",\"exit_code\":0,\"duration\":\"PT0.042S\",\"duration_ms\":42,"
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new AgentEvent.OnChangeFailed(
                    T, H1, "timed out after 60s; killed", Duration.ofSeconds(60))))
        .isEqualTo(
            "{\"event\":\"on_change_failed\",\"hash\":\""
                + H1
                + "\",\"reason\":\"timed out after 60s; killed\",\"duration\":\"PT1M\","
                + "\"duration_ms\":60000,"
                + TIME
                + "}");
    UUID id = UUID.fromString("3f2b8c1e-0000-4000-8000-000000000001");
    assertThat(EventJson.line(new AgentEvent.ManualLoadFinished(T, H1, true, null, id, false)))
        .isEqualTo(
            "{\"event\":\"manual_load_finished\",\"hash\":\""
                + H1
                + "\",\"ok\":true,\"id\":\""
                + id
                + "\",\"force\":false,"
                + TIME
                + "}");
    assertThat(
            EventJson.line(
                new AgentEvent.ManualLoadFinished(T, null, false, "connected", id, false)))
        .isEqualTo(
            "{\"event\":\"manual_load_finished\",\"ok\":false,\"error\":\"connected\","
                + "\"id\":\""
                + id
                + "\",\"force\":false,"
                + TIME
                + "}");
  }

  /** Any event record, today's or a future one, formats by the rules without agent changes. */
  @Test
  void everySyncEventTypeFormatsGenerically() throws Exception {
    ObjectMapper json = new ObjectMapper();
    List<Class<?>> types = new ArrayList<>(List.of(SyncEvent.class.getPermittedSubclasses()));
    types.addAll(List.of(AgentEvent.class.getPermittedSubclasses()));
    assertThat(types).hasSizeGreaterThanOrEqualTo(14);
    for (Class<?> type : types) {
      Record event = sample(type);
      JsonNode line = json.readTree(EventJson.line(event));

      assertThat(line.path("event").asText()).isEqualTo(EventJson.snakeCase(type.getSimpleName()));
      Iterator<String> names = line.fieldNames();
      assertThat(names.next()).isEqualTo("event");
      List<String> fields = new ArrayList<>();
      names.forEachRemaining(fields::add);
      assertThat(fields.get(fields.size() - 1)).as(type.getSimpleName()).isEqualTo("time");
      for (RecordComponent component : type.getRecordComponents()) {
        String name = EventJson.snakeCase(component.getName());
        assertThat(line.has(name)).as(type.getSimpleName() + "." + name).isTrue();
        if (component.getType() == Duration.class) {
          assertThat(line.path(name + "_ms").isIntegralNumber()).isTrue();
        }
        if (component.getType().isEnum()) {
          assertThat(line.path(name).asText()).isLowerCase();
        }
      }
    }
  }

  @Test
  void snakeCase() {
    assertThat(EventJson.snakeCase("SnapshotApplied")).isEqualTo("snapshot_applied");
    assertThat(EventJson.snakeCase("CacheWriteFailed")).isEqualTo("cache_write_failed");
    assertThat(EventJson.snakeCase("previousHash")).isEqualTo("previous_hash");
    assertThat(EventJson.snakeCase("retryIn")).isEqualTo("retry_in");
    assertThat(EventJson.snakeCase("time")).isEqualTo("time");
    assertThat(EventJson.snakeCase("nodeURI")).isEqualTo("node_uri");
    assertThat(EventJson.snakeCase("URIPath")).isEqualTo("uri_path");
    assertThat(EventJson.snakeCase("http2Enabled")).isEqualTo("http2_enabled");
  }

  @Test
  void textWithLineBreaksStaysOnOneLine() {
    String line =
        EventJson.line(new SyncEvent.Disconnected(T, "line one\nline \"two\"", Duration.ZERO));
    assertThat(line).doesNotContain("\n").contains("line one\\nline \\\"two\\\"");
  }

  /**
   * A line's time is when it is printed, never before the line above: events stamped on other
   * threads (the client's loop, the on-change thread) reach the printer out of their time order.
   */
  @Test
  void linesAreStampedWhenPrintedAndNeverGoBackInTime() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    java.util.Deque<Instant> ticks =
        new java.util.ArrayDeque<>(
            List.of(
                Instant.parse("2026-03-01T12:00:01Z"),
                Instant.parse("2026-03-01T12:00:00.5Z"), // the wall clock stepped back
                Instant.parse("2026-03-01T12:00:02Z")));
    java.time.Clock clock =
        new java.time.Clock() {
          @Override
          public java.time.ZoneId getZone() {
            return java.time.ZoneOffset.UTC;
          }

          @Override
          public java.time.Clock withZone(java.time.ZoneId zone) {
            return this;
          }

          @Override
          public Instant instant() {
            return ticks.removeFirst();
          }
        };
    EventLines lines = new EventLines(new PrintStream(bytes, false, StandardCharsets.UTF_8), clock);
    // Stamped in the other order than they are printed.
    lines.print(new SyncEvent.CacheWritten(T.plusSeconds(5), H1, 10));
    lines.print(new SyncEvent.SnapshotApplied(T, H1, SnapshotSource.CONTROL_PLANE, null));
    lines.print(new SyncEvent.Stopped(T.minusSeconds(5)));
    List<String> printed = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    assertThat(printed)
        .containsExactly(
            "{\"event\":\"cache_written\",\"hash\":\""
                + H1
                + "\",\"bytes\":10,\"time\":\"2026-03-01T12:00:01Z\"}",
            "{\"event\":\"snapshot_applied\",\"hash\":\""
                + H1
                + "\",\"source\":\"control_plane\",\"delta\":false,"
                + "\"time\":\"2026-03-01T12:00:01Z\"}",
            "{\"event\":\"stopped\",\"time\":\"2026-03-01T12:00:02Z\"}");
  }

  @Test
  void linesFromManyThreadsNeverInterleave() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    EventLines lines =
        new EventLines(
            new PrintStream(bytes, false, StandardCharsets.UTF_8),
            java.time.Clock.fixed(T, java.time.ZoneOffset.UTC)); // lines are stamped when printed
    String longReason = "x".repeat(10_000);
    int threads = 8;
    int perThread = 200;
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread worker =
          new Thread(
              () -> {
                try {
                  start.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  return;
                }
                for (int i = 0; i < perThread; i++) {
                  lines.print(new SyncEvent.CacheWriteFailed(T, H1, longReason));
                }
              });
      worker.start();
      workers.add(worker);
    }
    start.countDown();
    for (Thread worker : workers) {
      worker.join();
    }
    List<String> printed = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    assertThat(printed).hasSize(threads * perThread);
    String expected = EventJson.line(new SyncEvent.CacheWriteFailed(T, H1, longReason));
    assertThat(printed).allMatch(expected::equals);
  }

  private static Record sample(Class<?> type) throws Exception {
    RecordComponent[] components = type.getRecordComponents();
    Class<?>[] types = new Class<?>[components.length];
    Object[] values = new Object[components.length];
    for (int i = 0; i < components.length; i++) {
      types[i] = components[i].getType();
      values[i] = sampleValue(types[i]);
    }
    Constructor<?> constructor = type.getDeclaredConstructor(types);
    constructor.setAccessible(true);
    return (Record) constructor.newInstance(values);
  }

  private static Object sampleValue(Class<?> type) {
    if (type == Instant.class) {
      return T;
    }
    if (type == String.class) {
      return "text";
    }
    if (type == Duration.class) {
      return Duration.ofMillis(1500);
    }
    if (type == URI.class) {
      return CP;
    }
    if (type == Path.class) {
      return Path.of("/tmp/x");
    }
    if (type == int.class || type == Integer.class) {
      return 7;
    }
    if (type == long.class || type == Long.class) {
      return 7L;
    }
    if (type == boolean.class || type == Boolean.class) {
      return true;
    }
    if (type == UUID.class) {
      return UUID.fromString("3f2b8c1e-0000-4000-8000-000000000001");
    }
    if (type.isEnum()) {
      return type.getEnumConstants()[0];
    }
    throw new AssertionError("no sample value for " + type + ": extend this test");
  }
}
