package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.UsageCount;
import dev.configsync.UsageLink;
import dev.configsync.internal.Gzip;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.internal.WebSocketFrame;
import dev.configsync.testkit.FaultProxy;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import okio.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Usage telemetry end to end over real mutual TLS on 127.0.0.1: real clients, the real control
 * plane, and a hand-written data plane for duplicates and malformed batches.
 */
class UsageIngestTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Duration FLUSH = Duration.ofMillis(100);

  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final List<UsageBatch> forwarded = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() throws Exception {
    f.close();
  }

  private ConfigSyncClient client(URI controlPlane) {
    ConfigSyncClient client =
        f.client(OkHttpTransport.create(f.dataPlaneTls()))
            .controlPlane(controlPlane)
            .usageFlushInterval(FLUSH)
            .build();
    f.clients.add(client);
    client.start();
    return client;
  }

  /** Records {@code n} requests spread over a few keys, and adds them to {@code expected}. */
  private static void record(ConfigSyncClient client, int n, Map<String, Long> expected) {
    String[] consumers = {"alice", "bob", null};
    int[] statuses = {200, 201, 302, 404, 503};
    for (int i = 0; i < n; i++) {
      String service = "svc-" + (i % 2);
      String route = "route-" + (i % 3);
      String consumer = consumers[i % 3];
      int status = statuses[i % 5];
      assertThat(client.usage().record(service, route, consumer, status)).isTrue();
      expected.merge(key(service, route, consumer, status / 100), 1L, Long::sum);
    }
  }

  private static String key(String service, String route, String consumer, int statusClass) {
    return service
        + "/"
        + route
        + "/"
        + Objects.requireNonNullElse(consumer, "-")
        + "/"
        + statusClass;
  }

  private static Map<String, Long> counted(UsageReport... reports) {
    Map<String, Long> out = new HashMap<>();
    for (UsageReport r : reports) {
      for (UsageReport.Row row : r.rows()) {
        UsageCount c = row.counts();
        for (int k = 1; k <= 5; k++) {
          if (c.byClass(k) != 0) {
            out.merge(key(c.service(), c.route(), c.consumer(), k), c.byClass(k), Long::sum);
          }
        }
      }
    }
    return out;
  }

  private static long total(Map<String, Long> counts) {
    return counts.values().stream().mapToLong(Long::longValue).sum();
  }

  @Test
  void usageRecordedAcrossAControlPlaneOutageAndADataPlaneReconnectArrivesExactlyOnce()
      throws Exception {
    ControlPlaneServer first = f.start(b -> b.onUsage(forwarded::add));
    int port = first.address().getPort();
    FaultProxy proxy = FaultProxy.start("127.0.0.1", port);
    f.closeables.add(proxy::close);
    ConfigSyncClient client = client(URI.create("wss://localhost:" + proxy.port()));
    Map<String, Long> expected = new HashMap<>();

    record(client, 1000, expected);
    await().atMost(Duration.ofSeconds(20)).until(() -> first.usage().apiCalls() == 1000);
    assertThat(client.status().usage().link()).isEqualTo(UsageLink.ACKNOWLEDGED);

    // Outage: usage keeps being recorded while the control plane is down, some of it in flight
    // when it goes.
    record(client, 500, expected);
    first.close();
    UsageReport beforeOutage = first.usage();
    record(client, 700, expected);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> client.status().usage().bufferedBatches() > 0);

    ControlPlaneServer second =
        f.builder().listen("127.0.0.1", port).onUsage(forwarded::add).start();
    f.cp = second; // closed by the fixture
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> beforeOutage.apiCalls() + second.usage().apiCalls() == total(expected));

    // A data plane reconnect while batches are in flight: every connection through the proxy is
    // cut, the node re-dials and sends again what was not acknowledged.
    record(client, 300, expected);
    proxy.reset();
    record(client, 300, expected);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> beforeOutage.apiCalls() + second.usage().apiCalls() == total(expected));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                client.status().usage().bufferedBatches() == 0
                    && client.status().usage().link() == UsageLink.ACKNOWLEDGED);
    // Everything is acknowledged, so nothing can arrive later: the totals are final.
    assertThat(counted(beforeOutage, second.usage())).isEqualTo(expected);
    Set<String> ids = new HashSet<>();
    for (UsageBatch b : forwarded) {
      assertThat(ids.add(b.nodeId() + "/" + b.stream() + "/" + b.seq()))
          .as("batch %s/%s forwarded once", b.stream(), b.seq())
          .isTrue();
    }
    assertThat(forwarded.stream().mapToLong(UsageBatch::total).sum()).isEqualTo(total(expected));
    assertThat(client.status().usage().lostRecords()).isZero();
    assertThat(client.status().usage().refusedRecords()).isZero();
  }

  @Test
  void aBatchSentTwiceIsCountedOnceAndAcknowledgedTwice() throws Exception {
    f.start(b -> rawIngest(b).onUsage(forwarded::add));
    String node = UUID.randomUUID().toString();
    byte[] batch = batch(node, "stream-1", 1, "{\"service\":\"s\",\"route\":\"r\",\"2xx\":5}");
    try (RawDataPlane dp = ingest(node)) {
      assertThat(json(dp.read()))
          .isEqualTo(MAPPER.readTree("{\"type\":\"ingest_hello\",\"ack\":true}"));
      dp.writer.writeBinary(ByteString.of(batch));
      dp.writer.writeBinary(ByteString.of(batch));
      JsonNode ack = MAPPER.readTree("{\"type\":\"ack\",\"stream\":\"stream-1\",\"seq\":1}");
      assertThat(json(dp.read())).isEqualTo(ack);
      assertThat(json(dp.read())).isEqualTo(ack);
    }
    // Again on a new connection, as after a reconnect.
    try (RawDataPlane dp = ingest(node)) {
      dp.read(); // hello
      dp.writer.writeBinary(ByteString.of(batch));
      assertThat(json(dp.read()).path("seq").asLong()).isEqualTo(1);
    }
    UsageReport report = f.cp.usage();
    assertThat(report.apiCalls(node)).isEqualTo(5);
    assertThat(report.batchesAccepted()).isEqualTo(1);
    assertThat(report.duplicatesIgnored()).isEqualTo(2);
    assertThat(forwarded).hasSize(1);
    assertThat(forwarded.get(0).counts())
        .containsExactly(new UsageCount("s", "r", null, 0, 5, 0, 0, 0));
  }

  /**
   * The usage connection ends with the closing handshake, as the configuration connection does: a
   * node still sending (pings here) reads the 1001 close frame, not a reset that destroyed it.
   */
  @Test
  void aUsageClientReadsTheGoingAwayCloseFrameWhenTheControlPlaneStops() throws Exception {
    f.start(UsageIngestTest::rawIngest);
    String node = UUID.randomUUID().toString();
    try (RawDataPlane dp = ingest(node)) {
      dp.read(); // hello
      java.util.concurrent.ScheduledExecutorService pinger =
          java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
      try {
        java.util.concurrent.Future<?> unused =
            pinger.scheduleAtFixedRate(
                () -> {
                  try {
                    dp.ping("00000000000000000000000000000000");
                  } catch (IOException e) {
                    // the connection ended: the test reads how
                  }
                },
                0,
                5,
                java.util.concurrent.TimeUnit.MILLISECONDS);
        java.util.concurrent.CompletableFuture<Void> closing =
            java.util.concurrent.CompletableFuture.runAsync(f.cp::close);
        WebSocketFrame close = dp.readUntilClose();
        assertThat(close.closeCode()).isEqualTo(1001);
        dp.writer.writeClose(1001, "");
        closing.get(30, java.util.concurrent.TimeUnit.SECONDS);
      } finally {
        pinger.shutdownNow();
      }
    }
  }

  @Test
  void aMalformedBatchClosesTheConnectionAndCountsNothing() throws Exception {
    f.start(UsageIngestTest::rawIngest);
    String node = UUID.randomUUID().toString();
    try (RawDataPlane dp = ingest(node)) {
      dp.read(); // hello
      dp.writer.writeBinary(
          ByteString.of(batch(node, "s", 1, "{\"service\":\"s\",\"route\":\"r\",\"2xx\":-1}")));
      WebSocketFrame close = dp.readUntilClose();
      assertThat(close.payload().size()).isGreaterThan(2);
      assertThat(close.closeCode()).isEqualTo(1002);
    }
    try (RawDataPlane dp = ingest(node)) {
      dp.read();
      // Another node's id in the batch: refused as well.
      dp.writer.writeBinary(
          ByteString.of(
              batch(
                  UUID.randomUUID().toString(),
                  "s",
                  1,
                  "{\"service\":\"s\",\"route\":\"r\",\"2xx\":1}")));
      assertThat(dp.readUntilClose().closeCode()).isEqualTo(1002);
    }
    assertThat(f.cp.usage().batchesRefused()).isEqualTo(2);
    assertThat(f.cp.usage().apiCalls()).isZero();
  }

  @Test
  void aBatchTheCallbackRefusesIsNotAcknowledgedAndCountsOnceWhenSentAgain() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    f.start(
        b ->
            rawIngest(b)
                .onUsage(
                    batch -> {
                      if (calls.incrementAndGet() == 1) {
                        throw new IllegalStateException("billing store unavailable");
                      }
                      forwarded.add(batch);
                    }));
    String node = UUID.randomUUID().toString();
    byte[] batch =
        batch(node, "st", 1, "{\"service\":\"s\",\"route\":\"r\",\"consumer\":\"c\",\"5xx\":2}");
    try (RawDataPlane dp = ingest(node)) {
      dp.read();
      dp.writer.writeBinary(ByteString.of(batch));
      assertThat(dp.readUntilClose().closeCode()).isEqualTo(1011);
    }
    assertThat(f.cp.usage().apiCalls()).isZero();
    try (RawDataPlane dp = ingest(node)) {
      dp.read();
      dp.writer.writeBinary(ByteString.of(batch));
      assertThat(json(dp.read()).path("type").asText()).isEqualTo("ack");
    }
    assertThat(f.cp.usage().apiCalls()).isEqualTo(2);
    assertThat(forwarded).hasSize(1);
  }

  @Test
  void adminApiShowsUsageAndBillingPerNode() throws Exception {
    f.start(b -> b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
    f.cp.publish("{\"services\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"routes\":[]}");
    ConfigSyncClient client =
        f.startClient(
            b -> b.usageFlushInterval(FLUSH),
            new ArrayList<ConfigSnapshot>(),
            new ArrayList<SyncEvent>());
    String node = client.status().nodeId().toString();
    await()
        .until(
            () ->
                f.cp.dataPlanes().stream()
                    .anyMatch(n -> n.id().equals(node) && !n.configHash().startsWith("0000")));
    client.usage().record("svc-a", "route-1", "alice", 200);
    client.usage().record("svc-a", "route-1", "alice", 500);
    client.usage().record("svc-a", "route-1", null, 200);
    await().atMost(Duration.ofSeconds(10)).until(() -> f.cp.usage().apiCalls() == 3);

    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:"
                                + f.cp.adminAddress().orElseThrow().getPort()
                                + "/usage"))
                    .build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = MAPPER.readTree(response.body());
    assertThat(body.path("api_calls").asLong()).isEqualTo(3);
    assertThat(body.path("usage"))
        .containsExactly(
            MAPPER.readTree(
                "{\"node_id\":\""
                    + node
                    + "\",\"service\":\"svc-a\",\"route\":\"route-1\",\"consumer\":null,"
                    + "\"1xx\":0,\"2xx\":1,\"3xx\":0,\"4xx\":0,\"5xx\":0,\"total\":1}"),
            MAPPER.readTree(
                "{\"node_id\":\""
                    + node
                    + "\",\"service\":\"svc-a\",\"route\":\"route-1\",\"consumer\":\"alice\","
                    + "\"1xx\":0,\"2xx\":1,\"3xx\":0,\"4xx\":0,\"5xx\":1,\"total\":2}"));
    JsonNode billing = body.path("billing").get(0);
    assertThat(billing.path("node_id").asText()).isEqualTo(node);
    assertThat(billing.path("api_calls").asLong()).isEqualTo(3);
    assertThat(billing.path("services_configured").asInt()).isEqualTo(2);
    assertThat(body.path("batches").path("accepted").asLong()).isPositive();
  }

  // ---- helpers --------------------------------------------------------------------------------

  /**
   * Settings for tests that speak on a raw usage connection: it sends no pings, so the fixture's
   * liveness rule (dead after 3 s of silence) would let a long pause between two frames close it
   * and decide the verdict; these tests are not about liveness.
   */
  private static ControlPlaneServer.Builder rawIngest(ControlPlaneServer.Builder b) {
    return b.heartbeatInterval(Duration.ofSeconds(30));
  }

  private RawDataPlane ingest(String node) throws Exception {
    RawDataPlane dp =
        RawDataPlane.connect(f.dataPlaneTls(), f.address(), "/v1/ingest?node_id=" + node, 0);
    assertThat(dp.upgraded()).as(dp.responseStatus).isTrue();
    return dp;
  }

  private static byte[] batch(String node, String stream, long seq, String... counts) {
    String json =
        "{\"type\":\"usage\",\"node_id\":\""
            + node
            + "\",\"stream\":\""
            + stream
            + "\",\"seq\":"
            + seq
            + ",\"window_start\":1700000000000,\"window_end\":1700000010000,\"counts\":["
            + String.join(",", counts)
            + "]}";
    return Gzip.compress(json.getBytes(StandardCharsets.UTF_8));
  }

  private static JsonNode json(WebSocketFrame frame) throws Exception {
    assertThat(frame.opcode()).isEqualTo(WebSocketFrame.OP_BINARY);
    return MAPPER.readTree(frame.payload().toByteArray());
  }
}
