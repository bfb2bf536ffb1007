package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.okhttp.internal.WebSocketFrame;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import okio.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Peers that try to write into the control plane's log, or to fill its memory, over real
 * connections: what they send never reaches the log as sent, and the registry stays within its
 * bounds.
 */
class HostilePeerTest {
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final LogCapture log = new LogCapture();

  @AfterEach
  void stop() throws Exception {
    try {
      f.close();
    } finally {
      log.close();
    }
  }

  /** Raw nodes ping once at most: the heartbeat is long enough that none is dropped as silent. */
  private void start(java.util.function.UnaryOperator<ControlPlaneServer.Builder> settings)
      throws Exception {
    f.start(b -> settings.apply(b.heartbeatInterval(Duration.ofSeconds(20))));
  }

  private RawDataPlane node(String version, Map<String, String> plugins, Map<String, String> labels)
      throws Exception {
    return node(f.dataPlaneTls(), version, plugins, labels);
  }

  private RawDataPlane node(
      TlsConfig tls, String version, Map<String, String> plugins, Map<String, String> labels)
      throws Exception {
    RawDataPlane dp = RawDataPlane.connect(tls, f.address(), version);
    f.closeables.add(dp);
    assertThat(dp.upgraded()).as(dp.responseStatus).isTrue();
    dp.writer.writeBinary(ByteString.of(HybridProtocol.basicInfo(plugins, labels)));
    return dp;
  }

  private static int closeCode(WebSocketFrame close) {
    ByteString p = close.payload();
    return ((p.getByte(0) & 0xff) << 8) | (p.getByte(1) & 0xff);
  }

  private static String closeReason(WebSocketFrame close) {
    return close.payload().size() > 2 ? close.payload().substring(2).utf8() : "";
  }

  /** No line of the log starts with {@code forged}, and no escape character is in it. */
  private void assertNotForged(String forged) {
    assertThat(log.text().lines()).noneMatch(line -> line.startsWith(forged));
    assertThat(log.text()).doesNotContain("\u001b");
  }

  @Test
  void aPluginVersionHoldingANewlineCannotForgeALogLine() throws Exception {
    start(b -> b.capability("rate-limiting", "3.0.0"));
    RawDataPlane dp =
        node(
            "0.1.0",
            Map.of("rate-limiting", "9.0\n2026-01-01 [main] WARN FORGED by the node \u001b[2J"),
            Map.of());
    dp.ping(ConfigHash.NONE);
    await().until(() -> f.cp.dataPlanes().size() == 1);

    f.cp.publish("{\"plugins\":[{\"name\":\"rate-limiting\"}]}");

    await().until(() -> log.text().contains("withheld from data plane " + dp.nodeId));
    assertNotForged("2026-01-01 [main] WARN FORGED");
    assertThat(f.cp.dataPlanes().get(0).capabilities().get("rate-limiting"))
        .doesNotContain("\n", "\u001b");
  }

  @Test
  void aUsageStreamNameHoldingANewlineCannotForgeALogLine() throws Exception {
    // The stream name is echoed back in the ack as sent; only the log sees it sanitised.
    start(
        b ->
            b.onUsage(
                batch -> {
                  throw new IllegalStateException("refused by the test");
                }));
    String node = java.util.UUID.randomUUID().toString();
    RawDataPlane dp =
        RawDataPlane.connect(f.dataPlaneTls(), f.address(), "/v1/ingest?node_id=" + node, 0);
    f.closeables.add(dp);
    assertThat(dp.upgraded()).as(dp.responseStatus).isTrue();
    dp.read(); // ingest_hello
    String json =
        "{\"type\":\"usage\",\"node_id\":\""
            + node
            + "\",\"stream\":\"s\\nUSAGE-FORGED \\u001b[2J\",\"seq\":1,"
            + "\"window_start\":1700000000000,\"window_end\":1700000010000,\"counts\":[]}";
    dp.writer.writeBinary(
        ByteString.of(
            dev.configsync.internal.Gzip.compress(json.getBytes(StandardCharsets.UTF_8))));
    assertThat(closeCode(dp.readUntilClose())).isEqualTo(1011);
    await().until(() -> log.text().contains("The usage callback failed"));
    assertNotForged("USAGE-FORGED");
  }

  @Test
  void aNodeVersionHoldingAnEscapeSequenceIsRefusedAndNotLogged() throws Exception {
    start(b -> b);
    // Another major version, so the old code logged its compatibility reason at WARN.
    RawDataPlane dp = RawDataPlane.connect(f.dataPlaneTls(), f.address(), "9.0.%1B%5B2J");
    f.closeables.add(dp);
    assertThat(dp.responseStatus).startsWith("HTTP/1.1 400");
    await().until(() -> log.text().contains("Refused data plane connection"));
    assertThat(log.text()).doesNotContain("\u001b");
    assertThat(f.cp.dataPlanes()).isEmpty();
  }

  @Test
  void plaintextWithABearerTokenSentToTheDataPlanePortNeverReachesTheLog() throws Exception {
    start(b -> b);
    String token = "tok-" + java.util.UUID.randomUUID();
    String request =
        "PUT /config HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
            + token
            + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    for (int i = 0; i < 5; i++) {
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), f.cp.address().getPort())) {
        s.setSoTimeout(30_000);
        OutputStream out = s.getOutputStream();
        out.write(request.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        while (in.read() >= 0) {
          // the control plane answers with a TLS alert, if anything, and closes
        }
      } catch (java.net.SocketException reset) {
        // also a refusal
      }
    }
    await().until(() -> log.text().contains("TLS handshake with"));
    String hex = HexFormat.of().formatHex(token.getBytes(StandardCharsets.US_ASCII));
    assertThat(log.text()).doesNotContain(token).doesNotContainIgnoringCase(hex);
    assertThat(log.text())
        .doesNotContainIgnoringCase(
            HexFormat.of().formatHex("Authorization".getBytes(StandardCharsets.US_ASCII)));
    assertThat(log.text()).contains("the peer did not speak TLS");
    // Five failures within the rate limit's interval: one INFO line.
    assertThat(log.text().lines().filter(l -> l.contains("INFO") && l.contains("TLS handshake")))
        .hasSize(1);
  }

  @Test
  void aNodeDeclaringMoreLabelsOrPluginsThanTheLimitsIsRefusedWithTheLimitNamed() throws Exception {
    start(b -> b.maxNodeLabels(4).maxNodePlugins(3));
    Map<String, String> labels = new LinkedHashMap<>();
    for (int i = 0; i < 5; i++) {
      labels.put("k" + i, "v");
    }
    WebSocketFrame close = node("0.1.0", Map.of(), labels).readUntilClose();
    assertThat(closeCode(close)).isEqualTo(1008);
    assertThat(closeReason(close)).contains("5 labels", "maxNodeLabels");

    Map<String, String> plugins = new LinkedHashMap<>();
    for (int i = 0; i < 4; i++) {
      plugins.put("p" + i, "1.0");
    }
    close = node("0.1.0", plugins, Map.of()).readUntilClose();
    assertThat(closeCode(close)).isEqualTo(1008);
    assertThat(closeReason(close)).contains("4 plugins", "maxNodePlugins");

    close = node("0.1.0", Map.of(), Map.of("k", "v".repeat(257))).readUntilClose();
    assertThat(closeCode(close)).isEqualTo(1008);
    assertThat(closeReason(close)).contains("label value over 256");

    close = node("0.1.0", Map.of("p".repeat(129), "1.0"), Map.of()).readUntilClose();
    assertThat(closeCode(close)).isEqualTo(1008);
    assertThat(closeReason(close)).contains("plugin name over 128");

    assertThat(f.cp.dataPlanes()).isEmpty();
    assertThat(log.text()).contains("Closing connection of data plane", "maxNodeLabels");
  }

  @Test
  void theRegistryHoldsAtMostMaxDataPlanesEvictingDisconnectedNodesOldestFirst() throws Exception {
    start(b -> b.maxDataPlanes(5));
    java.util.List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < 12; i++) {
      RawDataPlane dp = node("0.1.0", Map.of(), Map.of("n", "" + i));
      dp.ping(ConfigHash.NONE);
      ids.add(dp.nodeId);
      String id = dp.nodeId;
      // Polled every 5 ms: with Awaitility's 100 ms the 120 waits made this test 16 s long.
      await()
          .pollInterval(Duration.ofMillis(5))
          .until(() -> f.cp.dataPlanes().stream().anyMatch(n -> n.id().equals(id)));
      dp.close();
      await()
          .pollInterval(Duration.ofMillis(5))
          .until(
              () -> f.cp.dataPlanes().stream().noneMatch(n -> n.id().equals(id) && n.connected()));
      assertThat(f.cp.dataPlanes().size()).isLessThanOrEqualTo(5);
    }
    // The five seen last are kept.
    assertThat(f.cp.dataPlanes())
        .extracting(DataPlaneInfo::id)
        .containsExactlyInAnyOrderElementsOf(ids.subList(7, 12));

    // Five connected nodes fill it; a sixth is refused, and the five stay.
    for (int i = 0; i < 5; i++) {
      node("0.1.0", Map.of(), Map.of()).ping(ConfigHash.NONE); // closed by the fixture
    }
    await().until(() -> f.cp.dataPlanes().stream().filter(DataPlaneInfo::connected).count() == 5);
    WebSocketFrame close = node("0.1.0", Map.of(), Map.of()).readUntilClose();
    assertThat(closeCode(close)).isEqualTo(1008);
    assertThat(closeReason(close)).contains("maxDataPlanes");
    assertThat(f.cp.dataPlanes()).hasSize(5).allMatch(DataPlaneInfo::connected);
  }

  @Test
  void theRegistryStaysWithinItsMemoryBudgetUnderManyLargeRegistrations() throws Exception {
    long budget = 1 << 20;
    f.start(
        b ->
            b.maxRegistryBytes(budget)
                .admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
    Map<String, String> labels = new LinkedHashMap<>();
    for (int i = 0; i < 64; i++) {
      labels.put(("label-" + i + "-").repeat(4), "x".repeat(256));
    }
    // About 27 KB each by the registry's estimate: 60 of them are 1.6 MiB.
    for (int i = 0; i < 60; i++) {
      RawDataPlane dp = node("0.1.0", Map.of(), labels);
      dp.ping(ConfigHash.NONE);
      String id = dp.nodeId;
      // Polled every 5 ms: with Awaitility's 100 ms the 120 waits made this test 16 s long.
      await()
          .pollInterval(Duration.ofMillis(5))
          .until(() -> f.cp.dataPlanes().stream().anyMatch(n -> n.id().equals(id)));
      dp.close();
      await()
          .pollInterval(Duration.ofMillis(5))
          .until(
              () -> f.cp.dataPlanes().stream().noneMatch(n -> n.id().equals(id) && n.connected()));
    }
    NodeRegistry registry = f.cp.outlet().registry;
    assertThat(registry.bytes()).isLessThanOrEqualTo(budget);
    assertThat(registry.size()).isBetween(2, 45);
    java.net.http.HttpResponse<String> list =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:"
                                + f.cp.adminAddress().orElseThrow().getPort()
                                + "/clustering/data-planes"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(list.statusCode()).isEqualTo(200);
  }

  @Test
  void oneCertificateHoldsAtMostMaxNodeIdsPerCertificate() throws Exception {
    start(b -> b.maxNodeIdsPerCertificate(2));
    TlsConfig one = f.dataPlaneTls(); // every node below presents this one certificate
    RawDataPlane a = node(one, "0.1.0", Map.of(), Map.of());
    RawDataPlane b = node(one, "0.1.0", Map.of(), Map.of());
    a.ping(ConfigHash.NONE);
    b.ping(ConfigHash.NONE);
    await().until(() -> f.cp.dataPlanes().stream().filter(DataPlaneInfo::connected).count() == 2);
    WebSocketFrame close = node(one, "0.1.0", Map.of(), Map.of()).readUntilClose();
    assertThat(closeCode(close)).isEqualTo(1008);
    assertThat(closeReason(close)).contains("maxNodeIdsPerCertificate");

    // Once one of the two is gone, a new node_id takes its place.
    a.close();
    await().until(() -> f.cp.dataPlanes().stream().filter(DataPlaneInfo::connected).count() == 1);
    RawDataPlane c = node(one, "0.1.0", Map.of(), Map.of());
    c.ping(ConfigHash.NONE);
    await()
        .until(
            () ->
                f.cp.dataPlanes().stream()
                    .map(DataPlaneInfo::id)
                    .collect(java.util.stream.Collectors.toSet())
                    .equals(java.util.Set.of(b.nodeId, c.nodeId)));
  }
}
