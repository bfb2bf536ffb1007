package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigRejectedException;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.examples.gateway.GatewayTestBed.Upstream;
import dev.configsync.examples.gateway.UsageRecorder.StatusClass;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real HTTP traffic through the gateway, with a real control plane that stops, restarts and changes
 * the configuration underneath it.
 */
@Timeout(60)
class GatewayIntegrationTest {
  @TempDir Path dir;
  private GatewayTestBed bed;

  @BeforeEach
  void setUp() {
    bed = new GatewayTestBed(dir);
    // Generous: the machine running the tests may be loaded; the awaited conditions are quick.
    Awaitility.setDefaultTimeout(Duration.ofSeconds(20));
  }

  @AfterEach
  void tearDown() throws Exception {
    Awaitility.reset();
    bed.close();
  }

  /** Config A: /a to upstream 1. */
  static String configA(Upstream one) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"one\",\"url\":\""
        + one.url()
        + "\",\"routes\":[{\"name\":\"a\",\"paths\":[\"/a\"]}]}]}";
  }

  /** Config B: /a and /b to upstream 2 (top-level routes, referring to the service by name). */
  static String configB(Upstream two) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"two\",\"url\":\""
        + two.url()
        + "\"}],\"routes\":[{\"name\":\"a\",\"service\":{\"name\":\"two\"},\"paths\":[\"/a\"]},"
        + "{\"name\":\"b\",\"service\":\"two\",\"paths\":[\"/b\"]}]}";
  }

  private static String hash(HttpResponse<?> response) {
    return response.headers().firstValue(ProxyHandler.HASH_HEADER).orElse("(none)");
  }

  @Test
  void noRequestFailsWhileTheControlPlaneStopsRestartsAndChangesConfiguration() throws Exception {
    Upstream one = bed.upstream("upstream-1");
    Upstream two = bed.upstream("upstream-2");
    bed.startControlPlane();
    String hashA = bed.cp().publish(configA(one)).hash();
    InMemoryUsageRecorder usage = new InMemoryUsageRecorder();
    Gateway gateway = bed.startGateway("dp-cache", c -> c, usage);
    await().until(() -> gateway.routingTable().map(t -> t.hash().equals(hashA)).orElse(false));

    Load load = new Load(bed, gateway, 4);
    load.start();
    try {
      await().until(() -> load.total.get() >= 200);

      // The control plane goes away: the gateway notices, and keeps serving.
      bed.stopControlPlane();
      await().until(() -> gateway.client().status().state() != SyncState.CONNECTED);
      long atStop = load.total.get();
      await().until(() -> load.total.get() >= atStop + 300);

      // It comes back on the same port with the same store, then publishes B.
      bed.startControlPlane();
      await().until(() -> gateway.client().status().state() == SyncState.CONNECTED);
      long atRestart = load.total.get();
      await().until(() -> load.total.get() >= atRestart + 100);
      String hashB = bed.cp().publish(configB(two)).hash();
      await().until(() -> load.seenHashes.contains(hashB));
      HttpResponse<String> b = bed.get(gateway, "/b");
      assertThat(b.statusCode()).isEqualTo(200);
      assertThat(b.body()).isEqualTo("upstream-2");
      assertThat(hash(b)).isEqualTo(hashB);
      long atB = load.total.get();
      await().until(() -> load.total.get() >= atB + 200);
      load.stop();

      assertThat(load.failures).isEmpty();
      // Every response came from the upstream of the table whose hash it carries: never a mix.
      Map<String, String> expected = Map.of(hashA, "upstream-1", hashB, "upstream-2");
      long countA = 0;
      long countB = 0;
      for (List<Load.Seen> perThread : load.perThread) {
        boolean sawB = false;
        for (Load.Seen seen : perThread) {
          assertThat(expected).containsKey(seen.hash());
          assertThat(seen.body()).isEqualTo(expected.get(seen.hash()));
          if (seen.hash().equals(hashB)) {
            sawB = true;
            countB++;
          } else {
            // Within one thread requests are sequential: once B is seen, A never comes back.
            assertThat(sawB).as("a request saw A after B on the same thread").isFalse();
            countA++;
          }
        }
      }
      assertThat(countA + countB).isEqualTo(load.total.get()).isGreaterThanOrEqualTo(800);
      assertThat(countA).isGreaterThanOrEqualTo(600);
      assertThat(countB).isPositive();
      Map<InMemoryUsageRecorder.Key, Long> counts = usage.snapshot();
      assertThat(counts.get(new InMemoryUsageRecorder.Key("one", "a", null, StatusClass.SUCCESS)))
          .isEqualTo(countA);
      assertThat(counts.get(new InMemoryUsageRecorder.Key("two", "a", null, StatusClass.SUCCESS)))
          .isEqualTo(countB);
      System.out.printf(
          "gateway load: %d requests (%d on A, %d on B), 0 failed%n",
          countA + countB, countA, countB);
    } finally {
      load.stop();
    }
  }

  @Test
  void aGatewayRestartedWhileTheControlPlaneIsDownServesFromItsCacheAtOnce() throws Exception {
    Upstream one = bed.upstream("upstream-1");
    Upstream two = bed.upstream("upstream-2");
    bed.startControlPlane();
    String hashA = bed.cp().publish(configA(one)).hash();
    Gateway first = bed.startGateway("dp-cache");
    await().until(() -> hashA.equals(first.client().status().hash()));
    bed.stopControlPlane();
    first.close();

    Gateway second = bed.startGateway("dp-cache");
    // No waiting: start() returned with the cached configuration in force.
    HttpResponse<String> response = bed.get(second, "/a");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("upstream-1");
    assertThat(hash(response)).isEqualTo(hashA);
    assertThat(second.client().status().source()).isEqualTo(SnapshotSource.CACHE);

    bed.startControlPlane();
    String hashB = bed.cp().publish(configB(two)).hash();
    await().until(() -> hash(bed.get(second, "/a")).equals(hashB));
    assertThat(bed.get(second, "/a").body()).isEqualTo("upstream-2");
  }

  /**
   * One service and {@code routes} routes to it, route {@code i} on {@code /r<i>} and {@code
   * extra}.
   */
  private static String manyRoutes(Upstream upstream, int routes, String extra) {
    StringBuilder json =
        new StringBuilder("{\"services\":[{\"name\":\"s\",\"url\":\"")
            .append(upstream.url())
            .append("\"}],\"routes\":[");
    for (int i = 0; i < routes; i++) {
      json.append(i == 0 ? "" : ",")
          .append("{\"name\":\"r")
          .append(i)
          .append("\",\"service\":\"s\",\"paths\":[\"/r")
          .append(i)
          .append("\"")
          .append(
              !extra.isEmpty() && (i == 7 || extra.startsWith("/all"))
                  ? ",\"" + extra + i + "\""
                  : "")
          .append("]}");
    }
    return json.append("]}").toString();
  }

  private SyncEvent.SnapshotApplied applied(String hash) {
    return await()
        .until(
            () ->
                bed.events.stream()
                    .filter(SyncEvent.SnapshotApplied.class::isInstance)
                    .map(SyncEvent.SnapshotApplied.class::cast)
                    .filter(e -> e.hash().equals(hash))
                    .findFirst()
                    .orElse(null),
            java.util.Objects::nonNull);
  }

  /**
   * A change reaches the gateway as a change set (a one-route change, sent as a delta) or whole
   * (every route changed, larger than a delta may be), and either way the gateway makes its next
   * routing table in place from the configuration's changes instead of reading it whole; the table
   * routes as the new configuration says.
   */
  @Test
  void changesUpdateTheRoutingTableInPlaceWhetherTheyComeAsADeltaOrWhole() throws Exception {
    Upstream upstream = bed.upstream("upstream-2");
    bed.startControlPlane();
    String base = bed.cp().publish(manyRoutes(upstream, 400, "")).hash();
    Gateway gateway = bed.startGateway("dp-cache");
    await().until(() -> gateway.routingTable().map(t -> t.hash().equals(base)).orElse(false));
    // The control plane sends a change to a node that reported its base in a ping.
    await().until(() -> bed.cp().dataPlanes().stream().anyMatch(n -> n.configHash().equals(base)));
    assertThat(gateway.tablesMadeInPlace()).isZero();

    String oneRoute = bed.cp().publish(manyRoutes(upstream, 400, "/seven-")).hash();
    await().until(() -> gateway.routingTable().map(t -> t.hash().equals(oneRoute)).orElse(false));
    assertThat(applied(oneRoute).delta()).as("came as a change set").isTrue();
    assertThat(gateway.tablesMadeInPlace()).isEqualTo(1);
    assertThat(bed.get(gateway, "/seven-7").body()).isEqualTo("upstream-2");
    assertThat(hash(bed.get(gateway, "/seven-7"))).isEqualTo(oneRoute);
    await()
        .until(() -> bed.cp().dataPlanes().stream().anyMatch(n -> n.configHash().equals(oneRoute)));

    String everyRoute = bed.cp().publish(manyRoutes(upstream, 400, "/all-")).hash();
    await().until(() -> gateway.routingTable().map(t -> t.hash().equals(everyRoute)).orElse(false));
    assertThat(applied(everyRoute).delta()).as("came whole").isFalse();
    assertThat(gateway.tablesMadeInPlace()).isEqualTo(2);
    assertThat(bed.get(gateway, "/all-399").body()).isEqualTo("upstream-2");
    assertThat(bed.get(gateway, "/seven-7").statusCode()).isEqualTo(404);
    assertThat(bed.get(gateway, "/r399").body()).isEqualTo("upstream-2");
  }

  @Test
  void aRouteToAMissingServiceIsRefusedBeforeItAppliesAndTheOldTableKeepsServing()
      throws Exception {
    Upstream one = bed.upstream("upstream-1");
    Upstream two = bed.upstream("upstream-2");
    bed.startControlPlane();
    String hashA = bed.cp().publish(configA(one)).hash();
    Gateway gateway = bed.startGateway("dp-cache");
    await().until(() -> gateway.routingTable().map(t -> t.hash().equals(hashA)).orElse(false));

    String bad =
        "{\"services\":[{\"name\":\"one\",\"url\":\""
            + one.url()
            + "\"}],\"routes\":[{\"name\":\"a\",\"service\":\"one\",\"paths\":[\"/a\"]},"
            + "{\"name\":\"ghost-route\",\"service\":{\"name\":\"ghost\"},\"paths\":[\"/g\"]}]}";
    String badHash = bed.cp().publish(bad).hash();

    await()
        .until(
            () ->
                bed.events.stream()
                    .anyMatch(
                        e ->
                            e instanceof SyncEvent.SnapshotRejected r
                                && badHash.equals(r.hash())
                                && r.reason() == ConfigRejectedException.Reason.VALIDATOR));
    SyncEvent.SnapshotRejected rejected =
        bed.events.stream()
            .filter(SyncEvent.SnapshotRejected.class::isInstance)
            .map(SyncEvent.SnapshotRejected.class::cast)
            .findFirst()
            .orElseThrow();
    assertThat(rejected.message()).contains("route 'ghost-route'").contains("'ghost'");
    assertThat(gateway.routingTable().orElseThrow().hash()).isEqualTo(hashA);
    assertThat(gateway.client().status().hash()).isEqualTo(hashA);
    HttpResponse<String> response = bed.get(gateway, "/a");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(hash(response)).isEqualTo(hashA);

    // A good configuration after the bad one is taken as usual.
    String hashB = bed.cp().publish(configB(two)).hash();
    await().until(() -> hash(bed.get(gateway, "/a")).equals(hashB));
  }

  @Test
  void answers404WithJsonWhenNoRouteMatchesAnd502WhenTheUpstreamIsDown() throws Exception {
    Upstream one = bed.upstream("upstream-1");
    int closedPort = bed.refusingPort();
    bed.startControlPlane();
    String hash =
        bed.cp()
            .publish(
                "{\"services\":[{\"name\":\"one\",\"url\":\""
                    + one.url()
                    + "\",\"routes\":[{\"name\":\"a\",\"paths\":[\"/a\"]}]},"
                    + "{\"name\":\"gone\",\"protocol\":\"http\",\"host\":\"127.0.0.1\",\"port\":"
                    + closedPort
                    + ",\"routes\":[{\"name\":\"down\",\"paths\":[\"/down\"]}]}]}")
            .hash();
    InMemoryUsageRecorder usage = new InMemoryUsageRecorder();
    Gateway gateway = bed.startGateway("dp-cache", c -> c, usage);
    await().until(() -> gateway.routingTable().isPresent());

    HttpResponse<String> missing = bed.get(gateway, "/nowhere?x=1");
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.headers().firstValue("Content-Type"))
        .hasValue("application/json; charset=utf-8");
    assertThat(missing.body()).isEqualTo("{\"message\":\"no route matches GET /nowhere\"}");
    assertThat(hash(missing)).isEqualTo(hash);

    HttpResponse<String> down = bed.get(gateway, "/down/x");
    assertThat(down.statusCode()).isEqualTo(502);
    assertThat(down.body())
        .startsWith("{\"message\":\"upstream of service 'gone' failed: ")
        .contains("ConnectException");
    assertThat(hash(down)).isEqualTo(hash);

    assertThat(usage.snapshot())
        .containsEntry(
            new InMemoryUsageRecorder.Key(null, null, null, StatusClass.CLIENT_ERROR), 1L)
        .containsEntry(
            new InMemoryUsageRecorder.Key("gone", "down", null, StatusClass.SERVER_ERROR), 1L)
        .hasSize(2);
  }

  @Test
  void answers503BeforeAnyConfiguration() throws Exception {
    // No control plane at all, and an empty cache.
    Gateway gateway = bed.startGateway("dp-cache");
    HttpResponse<String> response = bed.get(gateway, "/a");
    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(response.body()).startsWith("{\"message\":\"no configuration yet");
    assertThat(response.headers().firstValue(ProxyHandler.HASH_HEADER)).isEmpty();
  }

  @Test
  void proxiesMethodPathQueryHeadersAndBodyAndDropsHopByHopHeaders() throws Exception {
    Upstream one = bed.upstream("upstream-1");
    Upstream two = bed.upstream("upstream-2");
    bed.startControlPlane();
    bed.cp()
        .publish(
            "{\"services\":["
                + "{\"name\":\"one\",\"url\":\""
                + one.url()
                + "/base\",\"routes\":[{\"name\":\"api\",\"paths\":[\"/api\"],"
                + "\"methods\":[\"POST\",\"GET\",\"HEAD\"]}]},"
                + "{\"name\":\"two\",\"url\":\""
                + two.url()
                + "\",\"routes\":["
                + "{\"name\":\"host\",\"hosts\":[\"*.example.com\"],\"paths\":[\"/api\"],"
                + "\"strip_path\":false}]}]}");
    Gateway gateway = bed.startGateway("dp-cache");
    await().until(() -> gateway.routingTable().isPresent());

    String body = "{\"order\":42}";
    String response =
        GatewayTestBed.raw(
            gateway,
            "POST /api/orders/7%2F8?x=1&y=%20z HTTP/1.1\r\n"
                + "Host: gateway.local\r\n"
                + "Content-Type: application/json\r\n"
                + "Content-Length: "
                + body.length()
                + "\r\n"
                + "X-Request-Id: r-1\r\n"
                + "X-Want-Status: 201\r\n"
                + "Connection: close, X-Hop\r\n"
                + "X-Hop: per-connection\r\n"
                + "Keep-Alive: timeout=5\r\n"
                + "TE: trailers\r\n"
                + "Proxy-Authorization: Basic c2VjcmV0\r\n"
                + "\r\n"
                + body);

    assertThat(response).startsWith("HTTP/1.1 201 ");
    String head =
        response.substring(0, response.indexOf("\r\n\r\n")).toLowerCase(java.util.Locale.ROOT);
    assertThat(head).contains("x-upstream: upstream-1").contains("x-upstream-custom: kept");
    assertThat(head).doesNotContain("x-upstream-hop").doesNotContain("keep-alive");
    assertThat(head).contains("x-configsync-hash: ");
    assertThat(response).endsWith("\r\n\r\nupstream-1");

    GatewayTestBed.Upstream.Received got = one.last.get();
    assertThat(got.method()).isEqualTo("POST");
    assertThat(got.rawUri()).isEqualTo("/base/orders/7%2F8?x=1&y=%20z");
    assertThat(got.body()).isEqualTo(body);
    assertThat(got.headers().getFirst("Content-Type")).isEqualTo("application/json");
    assertThat(got.headers().getFirst("X-Request-Id")).isEqualTo("r-1");
    assertThat(got.headers().getFirst("X-Forwarded-For")).isEqualTo("127.0.0.1");
    assertThat(got.headers().getFirst("X-Forwarded-Host")).isEqualTo("gateway.local");
    assertThat(got.headers().getFirst("Host"))
        .isEqualTo("127.0.0.1:" + one.url().substring(one.url().lastIndexOf(':') + 1));
    for (String hop : List.of("X-Hop", "Keep-Alive", "TE", "Proxy-Authorization")) {
      assertThat(got.headers().containsKey(hop)).as(hop).isFalse();
    }

    // Host routing: the longer-or-equal path with hosts wins over the one without; no strip.
    String byHost =
        GatewayTestBed.raw(
            gateway,
            "GET /api/x HTTP/1.1\r\nHost: shop.example.com:8000\r\nConnection: close\r\n\r\n");
    assertThat(byHost).startsWith("HTTP/1.1 200 ").endsWith("upstream-2");
    assertThat(two.last.get().rawUri()).isEqualTo("/api/x");

    // A method the route does not list does not match.
    String delete =
        GatewayTestBed.raw(
            gateway, "DELETE /api/x HTTP/1.1\r\nHost: gateway.local\r\nConnection: close\r\n\r\n");
    assertThat(delete).startsWith("HTTP/1.1 404 ");

    // HEAD passes through without a body.
    HttpResponse<Void> headResponse =
        bed.http.send(
            HttpRequest.newBuilder(bed.uri(gateway, "/api/h"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.discarding());
    assertThat(headResponse.statusCode()).isEqualTo(200);
    assertThat(one.last.get().method()).isEqualTo("HEAD");
  }

  @Test
  void byDefaultUsageReachesTheControlPlane() throws Exception {
    Upstream one = bed.upstream("upstream-1");
    bed.startControlPlane();
    bed.cp().publish(configA(one));
    Gateway gateway =
        Gateway.builder()
            .listen(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))
            .start(bed.client("dp-usage").usageFlushInterval(java.time.Duration.ofMillis(200)));
    try {
      await().until(() -> gateway.routingTable().isPresent());
      for (int i = 0; i < 5; i++) {
        HttpResponse<String> ok =
            bed.http.send(
                HttpRequest.newBuilder(bed.uri(gateway, "/a")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ok.statusCode()).isEqualTo(200);
      }
      await()
          .until(
              () ->
                  bed.cp().usage().rows().stream().mapToLong(r -> r.counts().byClass(2)).sum()
                      == 5);
    } finally {
      gateway.close();
    }
  }

  @Test
  void refusesARequestBodyOverTheLimitWith413() throws Exception {
    Upstream one = bed.upstream("upstream-1");
    bed.startControlPlane();
    bed.cp().publish(configA(one));
    Gateway gateway =
        Gateway.builder()
            .listen(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))
            .maxRequestBodyBytes(1024)
            .start(bed.client("dp-cache"));
    try {
      await().until(() -> gateway.routingTable().isPresent());
      HttpResponse<String> ok =
          bed.http.send(
              HttpRequest.newBuilder(bed.uri(gateway, "/a"))
                  .POST(HttpRequest.BodyPublishers.ofString("x".repeat(1024)))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(one.last.get().body()).hasSize(1024);
      HttpResponse<String> tooLarge =
          bed.http.send(
              HttpRequest.newBuilder(bed.uri(gateway, "/a"))
                  .POST(HttpRequest.BodyPublishers.ofString("x".repeat(1025)))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(tooLarge.statusCode()).isEqualTo(413);
      assertThat(tooLarge.body()).contains("1024 bytes");
    } finally {
      gateway.close();
    }
  }

  /** Threads sending GET /a through the gateway, one request after another, until stopped. */
  static final class Load {
    record Seen(String hash, String body) {}

    final AtomicLong total = new AtomicLong();
    final Set<String> seenHashes = ConcurrentHashMap.newKeySet();
    final List<String> failures = new CopyOnWriteArrayList<>();
    final List<List<Seen>> perThread = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopped;

    Load(GatewayTestBed bed, Gateway gateway, int count) {
      HttpRequest request =
          HttpRequest.newBuilder(bed.uri(gateway, "/a")).timeout(Duration.ofSeconds(10)).build();
      for (int i = 0; i < count; i++) {
        List<Seen> seen = new ArrayList<>();
        perThread.add(seen);
        threads.add(
            new Thread(
                () -> {
                  while (!stopped) {
                    try {
                      HttpResponse<String> r =
                          bed.http.send(request, HttpResponse.BodyHandlers.ofString());
                      if (r.statusCode() != 200) {
                        failures.add(r.statusCode() + " " + r.body());
                      }
                      seen.add(new Seen(hash(r), r.body()));
                      seenHashes.add(hash(r));
                      total.incrementAndGet();
                    } catch (InterruptedException e) {
                      return;
                    } catch (Exception e) {
                      failures.add(e.toString());
                      total.incrementAndGet();
                    }
                  }
                },
                "load-" + i));
      }
    }

    void start() {
      threads.forEach(Thread::start);
    }

    void stop() throws InterruptedException {
      stopped = true;
      for (Thread t : threads) {
        t.join(15_000);
        assertThat(t.isAlive()).as(t.getName() + " still running").isFalse();
      }
    }
  }
}
