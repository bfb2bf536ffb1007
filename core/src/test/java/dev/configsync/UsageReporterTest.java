package dev.configsync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.internal.Gzip;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The data plane's side of usage telemetry, on a hand-driven clock and a fake transport: batches,
 * the bounded buffer, acknowledgements, re-sending after a reconnect, and the fire-and-forget
 * fallback. The real control plane's side is tested in the control-plane module.
 */
class UsageReporterTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final UUID NODE_ID = UUID.fromString("5f4a2c1e-0000-4000-8000-000000000002");
  private static final Duration FLUSH = Duration.ofSeconds(7);
  private static final Duration HELLO = Duration.ofSeconds(5);
  private static final byte[] HELLO_ACK =
      "{\"type\":\"ingest_hello\",\"ack\":true}".getBytes(StandardCharsets.UTF_8);

  private final ManualScheduler scheduler = new ManualScheduler();
  private final FakeTransport transport = new FakeTransport();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private final List<ConfigSyncClient> clients = new ArrayList<>();

  @AfterEach
  void close() {
    clients.forEach(ConfigSyncClient::close);
  }

  private ConfigSyncClient start(int bufferBatches) {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.example.com:8005"))
            .transport(transport)
            .nodeId(NODE_ID)
            .nodeHostname("dp-1")
            .scheduler(scheduler)
            .random(new Random(7))
            .reconnectDelay(Duration.ofSeconds(1), Duration.ofSeconds(1))
            .clock(Clock.fixed(Instant.parse("2024-06-01T12:00:00Z"), ZoneOffset.UTC))
            .listenerExecutor(Runnable::run)
            .onEvent(events::add)
            .usageFlushInterval(FLUSH)
            .usageHelloTimeout(HELLO)
            .usageBufferBatches(bufferBatches)
            .build();
    clients.add(client);
    client.start();
    return client;
  }

  private List<FakeConnection> ingestConnections() {
    List<FakeConnection> out = new ArrayList<>();
    for (int i = 0; i < transport.connectCount(); i++) {
      FakeConnection c = transport.connection(i);
      if (c.request().uri().getPath().equals("/v1/ingest")) {
        out.add(c);
      }
    }
    return out;
  }

  private static JsonNode batch(byte[] frame) throws IOException {
    return MAPPER.readTree(Gzip.decompress(frame, 1 << 20));
  }

  private static byte[] ack(JsonNode batch) {
    return ("{\"type\":\"ack\",\"stream\":\""
            + batch.path("stream").asText()
            + "\",\"seq\":"
            + batch.path("seq").asLong()
            + "}")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void opensNoTelemetryConnectionUntilSomethingIsRecorded() {
    start(10);
    scheduler.advance(FLUSH.multipliedBy(3));
    assertThat(ingestConnections()).isEmpty();
    assertThat(scheduler.scheduledCount(FLUSH)).isZero();
  }

  @Test
  void sendsNumberedGzipBatchesAndForgetsThemOnceAcknowledged() throws IOException {
    ConfigSyncClient client = start(10);
    client.usage().record("orders", "get", "alice", 200);
    client.usage().record("orders", "get", "alice", 500);
    client.usage().record("orders", "get", null, 404);

    scheduler.advance(FLUSH);
    assertThat(ingestConnections()).hasSize(1);
    FakeConnection ingest = ingestConnections().get(0);
    assertThat(ingest.request().uri())
        .hasToString(
            "wss://cp.example.com:8005/v1/ingest?node_id="
                + NODE_ID
                + "&node_hostname=dp-1&node_version="
                + ConfigSyncClient.VERSION);
    assertThat(client.status().usage().link()).isEqualTo(UsageLink.CONNECTING);
    assertThat(client.status().usage().bufferedBatches()).isOne();
    assertThat(client.status().usage().bufferedRecords()).isEqualTo(3);

    ingest.open();
    assertThat(ingest.binaryFrames()).isEmpty(); // not before the control plane says what it is
    ingest.deliver(HELLO_ACK);
    assertThat(client.status().usage().link()).isEqualTo(UsageLink.ACKNOWLEDGED);
    assertThat(ingest.binaryFrames()).hasSize(1);
    JsonNode b = batch(ingest.binaryFrames().get(0));
    assertThat(b.path("type").asText()).isEqualTo("usage");
    assertThat(b.path("node_id").asText()).isEqualTo(NODE_ID.toString());
    assertThat(b.path("seq").asLong()).isEqualTo(1);
    assertThat(b.path("window_end").asLong())
        .isEqualTo(Instant.parse("2024-06-01T12:00:00Z").toEpochMilli());
    assertThat(b.path("counts"))
        .containsExactlyInAnyOrder(
            MAPPER.readTree(
                "{\"service\":\"orders\",\"route\":\"get\",\"consumer\":\"alice\",\"2xx\":1,\"5xx\":1}"),
            MAPPER.readTree("{\"service\":\"orders\",\"route\":\"get\",\"4xx\":1}"));

    ingest.deliver(ack(b));
    assertThat(client.status().usage().bufferedBatches()).isZero();
    assertThat(client.status().usage().acknowledgedBatches()).isOne();

    client.usage().record("orders", "get", "alice", 200);
    scheduler.advance(FLUSH);
    assertThat(ingest.binaryFrames()).hasSize(2); // the next batch goes out at once
    assertThat(batch(ingest.binaryFrames().get(1)).path("seq").asLong()).isEqualTo(2);
  }

  @Test
  void resendsUnacknowledgedBatchesAfterAReconnect() throws IOException {
    ConfigSyncClient client = start(10);
    client.usage().record("orders", "get", null, 200);
    scheduler.advance(FLUSH);
    FakeConnection first = ingestConnections().get(0);
    first.open();
    first.deliver(HELLO_ACK);
    JsonNode sent = batch(first.binaryFrames().get(0));

    first.fail(new IOException("connection reset"));
    assertThat(client.status().usage().link()).isEqualTo(UsageLink.WAITING_RETRY);
    client.usage().record("orders", "get", null, 201);
    scheduler.advance(FLUSH); // a second batch waits too; the retry (1 s) came first
    List<FakeConnection> all = ingestConnections();
    assertThat(all).hasSize(2);
    FakeConnection second = all.get(1);
    second.open();
    second.deliver(HELLO_ACK);

    assertThat(second.binaryFrames()).hasSize(2);
    JsonNode again = batch(second.binaryFrames().get(0));
    assertThat(again).isEqualTo(sent); // the same bytes: same stream and seq, so deduplicated
    assertThat(batch(second.binaryFrames().get(1)).path("seq").asLong()).isEqualTo(2);
    second.deliver(ack(again));
    second.deliver(ack(batch(second.binaryFrames().get(1))));
    assertThat(client.status().usage().bufferedBatches()).isZero();
  }

  @Test
  void fallsBackToFireAndForgetWhenTheControlPlaneSaysNothing() {
    ConfigSyncClient client = start(10);
    client.usage().record("orders", "get", null, 200);
    scheduler.advance(FLUSH);
    FakeConnection ingest = ingestConnections().get(0);
    ingest.open();

    scheduler.advance(HELLO.minusMillis(1));
    assertThat(ingest.binaryFrames()).isEmpty();
    scheduler.advance(Duration.ofMillis(1));

    assertThat(client.status().usage().link()).isEqualTo(UsageLink.FIRE_AND_FORGET);
    assertThat(ingest.binaryFrames()).hasSize(1);
    assertThat(client.status().usage().bufferedBatches()).isZero(); // dropped once written
    assertThat(client.status().usage().sentBatches()).isOne();
  }

  @Test
  void aFullBufferDropsTheOldestBatchesAndSaysHowManyRecordsWereLost() {
    ConfigSyncClient client = start(2);
    for (int window = 1; window <= 4; window++) {
      for (int i = 0; i < window; i++) {
        client.usage().record("orders", "get", null, 200);
      }
      scheduler.advance(FLUSH); // the control plane never answers the connection attempt
    }

    UsageStatus usage = client.status().usage();
    assertThat(usage.bufferedBatches()).isEqualTo(2);
    assertThat(usage.bufferedRecords()).isEqualTo(3 + 4);
    assertThat(usage.lostBatches()).isEqualTo(2);
    assertThat(usage.lostRecords()).isEqualTo(1 + 2);
    assertThat(events)
        .filteredOn(SyncEvent.UsageLost.class::isInstance)
        .map(e -> ((SyncEvent.UsageLost) e).records())
        .containsExactly(1L, 2L);
  }

  @Test
  void reportingOffRefusesRecordsAndNeverConnects() {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.example.com:8005"))
            .transport(transport)
            .nodeId(NODE_ID)
            .scheduler(scheduler)
            .usageReporting(false)
            .usageFlushInterval(FLUSH)
            .build();
    clients.add(client);
    client.start();
    assertThat(client.usage().record("orders", "get", null, 200)).isFalse();
    scheduler.advance(FLUSH);
    assertThat(ingestConnections()).isEmpty();
    assertThat(client.status().usage()).isEqualTo(UsageStatus.OFF);
  }

  @Test
  void aBatchWorthOfKeysIsFlushedAtOnce() {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.example.com:8005"))
            .transport(transport)
            .nodeId(NODE_ID)
            .scheduler(scheduler)
            .usageBatchSize(3)
            .build();
    clients.add(client);
    client.start();
    client.usage().record("s", "r", "a", 200);
    client.usage().record("s", "r", "b", 200);
    assertThat(ingestConnections()).isEmpty();
    client.usage().record("s", "r", "c", 200);
    await().until(() -> ingestConnections().size() == 1);
    assertThat(client.status().usage().bufferedRecords()).isEqualTo(3);
  }

  @Test
  void usageEndpointReplacesTheDefaultAndMustBeWss() {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.example.com:8005"))
            .usageEndpoint(URI.create("wss://telemetry.example.com:8006"))
            .usageFlushInterval(FLUSH)
            .transport(transport)
            .nodeId(NODE_ID)
            .scheduler(scheduler)
            .build();
    clients.add(client);
    client.start();
    assertThat(client.usage().record("s", "r", null, 200)).isTrue();
    scheduler.advance(FLUSH);
    assertThat(client.status().usage().bufferedBatches()).isOne();
    assertThat(transport.last().request().uri().toString())
        .startsWith("wss://telemetry.example.com:8006/v1/ingest?node_id=" + NODE_ID);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ConfigSyncClient.builder().usageEndpoint(URI.create("http://x:1")))
        .hasMessageContaining("usageEndpoint must be a wss:// URI");
  }
}
