package dev.configsync.testkit;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.Json;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.FaultProxy.Direction;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real data plane (OkHttp transport, mutual TLS) reaching a {@link TestControlPlane} through a
 * {@link FaultProxy}: half-open connections, handshakes that never finish, a control plane that
 * dies mid-push, and a slow, distant link. What {@code TransportFaultsTest} already covers (a peer
 * that accepts TCP and is closed while the client waits; dropped connections; protocol errors) is
 * not repeated here.
 */
class NetworkFaultsTest {
  /**
   * How late, on a loaded 2-core machine, a timer may fire and the loop run it: the allowance on
   * top of every deadline measured here. The lower bounds have none: they are exact.
   */
  private static final Duration SCHEDULING_TOLERANCE = Duration.ofSeconds(1);

  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private final TestControlPlane cp = TestControlPlane.start(pki);
  private final FaultProxy proxy = FaultProxy.start("127.0.0.1", cp.port());
  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private final List<AutoCloseable> closeLater = new ArrayList<>();

  /** Events with the {@link System#nanoTime()} at which the sync loop emitted them. */
  private final List<Seen> events = new CopyOnWriteArrayList<>();

  private final List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();

  private record Seen(long nanos, SyncEvent event) {}

  @AfterEach
  void stopEverything() throws Exception {
    clients.forEach(ConfigSyncClient::close);
    for (AutoCloseable c : closeLater) {
      c.close();
    }
    proxy.close();
    cp.close();
  }

  private ConfigSyncClient start(URI uri, UnaryOperator<ConfigSyncClient.Builder> settings) {
    ConfigSyncClient client =
        settings
            .apply(
                ConfigSyncClient.builder()
                    .controlPlane(uri)
                    .transport(OkHttpTransport.create(pki.dataPlaneTls()))
                    .reconnectDelay(Duration.ofMillis(100), Duration.ofMillis(200))
                    // Listeners run inside the loop: the times recorded are the times it acted.
                    .listenerExecutor(Runnable::run)
                    .onEvent(e -> events.add(new Seen(System.nanoTime(), e)))
                    .onSnapshot(snapshots::add))
            .build();
    clients.add(client);
    client.start();
    return client;
  }

  private URI viaProxy() {
    return URI.create("wss://localhost:" + proxy.port());
  }

  private <T extends SyncEvent> List<T> events(Class<T> type, long sinceNanos) {
    return events.stream()
        .filter(s -> s.nanos() >= sinceNanos && type.isInstance(s.event()))
        .map(s -> type.cast(s.event()))
        .toList();
  }

  private List<Seen> seen(Class<? extends SyncEvent> type) {
    return events.stream().filter(s -> type.isInstance(s.event())).toList();
  }

  /**
   * The SnapshotApplied of {@code hash}, once the listener has recorded it. The client's status
   * changes on the sync loop before its listeners run on theirs, so a test that waited for the
   * status must still wait for the event.
   */
  private Seen applied(String hash) {
    return await()
        .until(
            () ->
                seen(SyncEvent.SnapshotApplied.class).stream()
                    .filter(s -> ((SyncEvent.SnapshotApplied) s.event()).hash().equals(hash))
                    .findFirst(),
            Optional::isPresent)
        .orElseThrow();
  }

  private static String smallConfig(String name) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"" + name + "\"}]}";
  }

  /** About {@code services} KiB of JSON that gzip cannot shrink much (random hex strings). */
  private static String bulkyConfig(String name, int services, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    byte[] noise = new byte[480];
    StringBuilder json = new StringBuilder("{\"_format_version\":\"3.0\",\"services\":[");
    for (int i = 0; i < services; i++) {
      for (int b = 0; b < noise.length; b++) {
        noise[b] = (byte) random.nextInt(256);
      }
      json.append(i == 0 ? "" : ",")
          .append("{\"name\":\"")
          .append(name)
          .append('-')
          .append(i)
          .append("\",\"url\":\"http://backend-")
          .append(i)
          .append(":8080\",\"tags\":[\"")
          .append(HexFormat.of().formatHex(noise))
          .append("\"]}");
    }
    return json.append("]}").toString();
  }

  private static Set<Thread> liveThreads() {
    return Set.copyOf(Thread.getAllStackTraces().keySet());
  }

  /** The client's threads that were not there before. */
  private static List<String> newClientThreads(Set<Thread> before) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && !before.contains(t) && t.getName().startsWith("configsync-"))
        .map(Thread::getName)
        .toList();
  }

  // ---- half-open connection -----------------------------------------------------------------

  @Test
  void halfOpenConnectionIsDetectedAfterOneAndAHalfHeartbeatsOfSilence() throws Exception {
    // 1 s rather than the 200 ms of other tests: a pong then has 500 ms to come back before it is
    // late, which a loaded 2-core machine needs (with 200 ms, 100 ms stalls caused false deaths).
    Duration heartbeat = Duration.ofSeconds(1);
    Duration deadAfter = heartbeat.multipliedBy(3).dividedBy(2); // the default ratio
    String hash = cp.publish(smallConfig("v1"));
    ConfigSyncClient client =
        start(
            viaProxy(),
            b -> b.heartbeatInterval(heartbeat).handshakeTimeout(Duration.ofSeconds(1)));
    await().until(() -> hash.equals(client.status().hash()));
    String nodeId = client.status().nodeId().toString();
    int pingsBefore = cp.reportedHashes(nodeId).size();
    await().until(() -> cp.reportedHashes(nodeId).size() >= pingsBefore + 1); // pongs flowing

    long blackholedAt = System.nanoTime();
    proxy.blackhole(); // both ends keep their TCP connection; nothing passes
    assertThat(seen(SyncEvent.Disconnected.class))
        .as("no disconnection before the black hole (a pong more than 500 ms late?)")
        .isEmpty();

    await()
        .atMost(deadAfter.plus(SCHEDULING_TOLERANCE))
        .until(() -> !events(SyncEvent.Disconnected.class, blackholedAt).isEmpty());
    Seen lost =
        seen(SyncEvent.Disconnected.class).stream()
            .filter(s -> s.nanos() >= blackholedAt)
            .findFirst()
            .orElseThrow();
    // The last byte toward the node went through the proxy before the black hole: the node had
    // heard nothing for at least deadAfter when it gave up, and gave up within the tolerance.
    long lastByte = proxy.lastForwardedNanos(Direction.DOWNSTREAM).orElseThrow();
    long silentMillis = (lost.nanos() - lastByte) / 1_000_000;
    long afterBlackholeMillis = (lost.nanos() - blackholedAt) / 1_000_000;
    System.out.printf(
        "half-open: dead after %d ms of silence, %d ms after the black hole (deadAfter %d ms)%n",
        silentMillis, afterBlackholeMillis, deadAfter.toMillis());
    assertThat(lost.nanos() - lastByte).isGreaterThanOrEqualTo(deadAfter.toNanos());
    assertThat(afterBlackholeMillis)
        .isLessThanOrEqualTo(deadAfter.plus(SCHEDULING_TOLERANCE).toMillis());
    assertThat(((SyncEvent.Disconnected) lost.event()).reason())
        .contains("nothing from the control plane");

    // The node keeps serving; while the black hole lasts, each new attempt hangs before TLS and is
    // abandoned at the handshake timeout.
    await().until(() -> events(SyncEvent.Disconnected.class, blackholedAt).size() >= 2);
    assertThat(events(SyncEvent.Disconnected.class, blackholedAt).get(1).reason())
        .containsAnyOf("not established within", "timed out", "timeout");
    assertThat(client.current().orElseThrow().hash()).isEqualTo(hash);
    assertThat(client.isServing()).isTrue();
    assertThat(cp.connectionCount()).isEqualTo(1);

    proxy.heal();
    await()
        .until(() -> client.status().state() == SyncState.CONNECTED && cp.connectionCount() == 2);
    assertThat(client.status().hash()).isEqualTo(hash);
    assertThat(client.status().applied()).isEqualTo(1); // the same configuration is not re-applied
    assertThat(snapshots).hasSize(1);
  }

  // ---- handshakes that never finish ---------------------------------------------------------

  @Test
  void controlPlaneThatAcceptsTcpButNeverStartsTlsCannotStallTheClient() throws Exception {
    proxy.blackhole(); // TCP completes with the proxy; the ClientHello goes nowhere
    Set<Thread> before = liveThreads();

    ConfigSyncClient client = start(viaProxy(), b -> b.handshakeTimeout(HANDSHAKE_TIMEOUT));

    assertAttemptsEndAtTheHandshakeTimeout();
    assertThat(proxy.bytesSwallowed()).isPositive(); // ClientHellos, into the hole
    assertThat(cp.connectionCount()).isZero();
    assertClosesPromptlyWithoutLeaks(client, before);
  }

  @Test
  void controlPlaneThatCompletesTlsButNeverAnswersTheUpgradeCannotStallTheClient()
      throws Exception {
    SilentUpgradeServer silent = new SilentUpgradeServer(pki);
    closeLater.add(silent);
    Set<Thread> before = liveThreads();

    ConfigSyncClient client =
        start(
            URI.create("wss://localhost:" + silent.port()),
            b -> b.handshakeTimeout(HANDSHAKE_TIMEOUT));

    assertAttemptsEndAtTheHandshakeTimeout();
    // TLS (with the client certificate) did complete: the stall was at the upgrade.
    assertThat(silent.requestLines()).hasSizeGreaterThanOrEqualTo(2);
    assertThat(silent.requestLines()).allMatch(line -> line.startsWith("GET /v1/outlet?node_id="));
    // And each abandoned attempt let go of its connection.
    await().until(() -> silent.closedByClient() >= 2);
    assertClosesPromptlyWithoutLeaks(client, before);
    await().until(() -> silent.closedByClient() == silent.accepted());
  }

  private static final Duration HANDSHAKE_TIMEOUT = Duration.ofMillis(500);

  /** The first two attempts each end no sooner than the handshake timeout, and not much later. */
  private void assertAttemptsEndAtTheHandshakeTimeout() {
    await().until(() -> seen(SyncEvent.Disconnected.class).size() >= 2);
    List<Seen> attempts = seen(SyncEvent.Connecting.class);
    List<Seen> ends = seen(SyncEvent.Disconnected.class);
    for (int i = 0; i < 2; i++) {
      long took = ends.get(i).nanos() - attempts.get(i).nanos();
      assertThat(took).isGreaterThanOrEqualTo(HANDSHAKE_TIMEOUT.toNanos() - 1_000_000);
      assertThat(Duration.ofNanos(took)).isLessThan(HANDSHAKE_TIMEOUT.plus(SCHEDULING_TOLERANCE));
      assertThat(((SyncEvent.Disconnected) ends.get(i).event()).reason())
          .containsAnyOf("not established within", "timed out", "timeout");
    }
    // The client went on to retry rather than waiting on the stuck attempt.
    assertThat(attempts.get(1).nanos()).isGreaterThan(ends.get(0).nanos());
  }

  private void assertClosesPromptlyWithoutLeaks(ConfigSyncClient client, Set<Thread> before) {
    long start = System.nanoTime();
    client.close();
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertThat(took).isLessThan(Duration.ofSeconds(2));
    await().until(() -> seen(SyncEvent.Stopped.class).size() == 1);
    // Reader threads of abandoned attempts, the timer: all gone.
    await().atMost(Duration.ofSeconds(5)).until(() -> newClientThreads(before).isEmpty());
  }

  /** A server that completes mutual TLS, reads the WebSocket upgrade request, and never answers. */
  private static final class SilentUpgradeServer implements AutoCloseable {
    private final SSLServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<String> requestLines = new CopyOnWriteArrayList<>();
    private final List<SSLSocket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicInteger closedByClient = new AtomicInteger();

    SilentUpgradeServer(TestPki pki) throws IOException {
      server =
          (SSLServerSocket)
              pki.controlPlaneHandshake()
                  .sslContext()
                  .getServerSocketFactory()
                  .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
      server.setNeedClientAuth(true);
      threads.execute(this::acceptLoop);
    }

    private void acceptLoop() {
      while (!server.isClosed()) {
        try {
          SSLSocket s = (SSLSocket) server.accept();
          sockets.add(s);
          accepted.incrementAndGet();
          threads.execute(() -> hold(s));
        } catch (IOException e) {
          return;
        }
      }
    }

    private void hold(SSLSocket s) {
      try {
        s.startHandshake();
        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), US_ASCII));
        String requestLine = in.readLine();
        if (requestLine != null) {
          requestLines.add(requestLine);
        }
        while (in.readLine() != null) {
          // headers, then nothing: read until the client gives up
        }
        closedByClient.incrementAndGet();
      } catch (IOException e) {
        closedByClient.incrementAndGet(); // a reset is the client letting go too
      }
    }

    int port() {
      return server.getLocalPort();
    }

    List<String> requestLines() {
      return List.copyOf(requestLines);
    }

    int accepted() {
      return accepted.get();
    }

    int closedByClient() {
      return closedByClient.get();
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (SSLSocket s : sockets) {
        s.close();
      }
      threads.shutdownNow();
    }
  }

  // ---- control plane dies mid-push ----------------------------------------------------------

  @Test
  void controlPlaneDyingMidPushLeavesThePreviousConfigurationThenTheNewOneArrivesWhole()
      throws Exception {
    Path cacheDir = dir.resolve("cache");
    String v1 = cp.publish(smallConfig("v1"));
    ConfigSyncClient client =
        start(
            viaProxy(),
            b -> {
              try {
                return b.snapshotStore(FileSnapshotStore.open(cacheDir))
                    .heartbeatInterval(Duration.ofSeconds(1));
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    await().until(() -> v1.equals(client.status().hash()));
    await().until(() -> !seen(SyncEvent.CacheWritten.class).isEmpty());
    byte[] cachedV1 = Files.readAllBytes(cacheDir.resolve("config.json.gz"));
    String bulky = bulkyConfig("v2", 3_000, 42); // about 3 MB of JSON, 1.5 MB of gzip

    // The control plane dies 256 KiB into the push, and stays away for a while.
    proxy.refuse();
    int cutAfter = 256 * 1024;
    proxy.cutAfter(cutAfter);
    long downBefore = proxy.bytesForwarded(Direction.DOWNSTREAM);
    long pushedAt = System.nanoTime();
    String v2 = cp.publish(bulky);

    await().until(() -> proxy.cutsMade() == 1);
    // (a pong or two may have gone between arming the cut and reading the counter)
    assertThat(proxy.bytesForwarded(Direction.DOWNSTREAM) - downBefore)
        .isBetween(cutAfter - 4096L, (long) cutAfter);
    await().until(() -> !events(SyncEvent.Disconnected.class, pushedAt).isEmpty());
    await().until(() -> proxy.connectionsRefused() >= 2); // it keeps retrying meanwhile
    assertThat(client.current().orElseThrow().hash()).isEqualTo(v1);
    assertThat(client.status().applied()).isEqualTo(1);
    assertThat(Files.readAllBytes(cacheDir.resolve("config.json.gz"))).isEqualTo(cachedV1);
    // The half frame never reached the decoder: nothing to reject, nothing half-applied.
    assertThat(seen(SyncEvent.SnapshotRejected.class)).isEmpty();

    cp.stop();
    cp.restart();
    proxy.accept();

    await().atMost(Duration.ofSeconds(20)).until(() -> v2.equals(client.status().hash()));
    assertThat(snapshots).extracting(ConfigSnapshot::hash).containsExactly(v1, v2);
    applied(v2);
    assertThat(
            seen(SyncEvent.SnapshotApplied.class).stream()
                .filter(s -> ((SyncEvent.SnapshotApplied) s.event()).hash().equals(v2))
                .count())
        .isEqualTo(1);
    assertThat(seen(SyncEvent.SnapshotRejected.class)).isEmpty();
    await().until(() -> v2.equals(cachedHash(cacheDir)));
    // The whole frame crossed on the new connection.
    assertThat(proxy.bytesForwarded(Direction.DOWNSTREAM) - downBefore - cutAfter)
        .isGreaterThan(1_000_000);
  }

  private static String cachedHash(Path cacheDir) throws IOException {
    byte[] gz = Files.readAllBytes(cacheDir.resolve("config.json.gz"));
    return Json.readFrozen(Gzip.decompress(gz, 64 << 20)).path("config_hash").asText();
  }

  // ---- a slow, distant link -----------------------------------------------------------------

  @Test
  void slowDistantLinkConvergesAndLatePongsWithinTheDeadlineAreNotDeath() throws Exception {
    Duration latency = Duration.ofMillis(300); // each way: 600 ms round trip
    long bytesPerSecond = 128 * 1024;
    Duration heartbeat = Duration.ofMillis(500); // pongs come back after the next ping has gone
    Duration deadAfter = Duration.ofSeconds(2);
    proxy.latency(latency);
    proxy.bandwidth(bytesPerSecond);
    String v1 = cp.publish(bulkyConfig("v1", 90, 1)); // about 45 KB of gzip

    ConfigSyncClient client =
        start(
            viaProxy(),
            b ->
                b.heartbeatInterval(heartbeat)
                    .deadAfter(deadAfter)
                    .handshakeTimeout(Duration.ofSeconds(10)));
    await().atMost(Duration.ofSeconds(20)).until(() -> v1.equals(client.status().hash()));
    // TLS and the upgrade need two round trips at least: the latency was in force.
    long connectNanos =
        seen(SyncEvent.Connected.class).get(0).nanos()
            - seen(SyncEvent.Connecting.class).get(0).nanos();
    assertThat(connectNanos).isGreaterThanOrEqualTo(latency.multipliedBy(4).toNanos());

    // A second push over the slow link while pongs are in flight behind it.
    long downBefore = proxy.bytesForwarded(Direction.DOWNSTREAM);
    long pushedAt = System.nanoTime();
    String v2 = cp.publish(bulkyConfig("v2", 90, 2));
    await().atMost(Duration.ofSeconds(20)).until(() -> v2.equals(client.status().hash()));
    long appliedAt = applied(v2).nanos();
    // The proxy can pass at most one 20 ms slice plus rate x time: the push was paced.
    long passed = proxy.bytesForwarded(Direction.DOWNSTREAM) - downBefore;
    // Less one slice that goes at once, and 1 KiB for pongs that may have gone ahead of the push.
    long slice = bytesPerSecond / 50 + 1024;
    long minimumNanos =
        latency.toNanos() + Math.max(0, passed - slice) * 1_000_000_000L / bytesPerSecond;
    System.out.printf(
        "slow link: connect %d ms, push of %d bytes %d ms%n",
        connectNanos / 1_000_000, passed, (appliedAt - pushedAt) / 1_000_000);
    assertThat(passed).isGreaterThan(40_000);
    assertThat(appliedAt - pushedAt).isGreaterThanOrEqualTo(minimumNanos);

    // Several more heartbeats, answered 600 ms late each, and never taken for a dead peer.
    String nodeId = client.status().nodeId().toString();
    int pings = cp.reportedHashes(nodeId).size();
    await().until(() -> cp.reportedHashes(nodeId).size() >= pings + 4);
    assertThat(seen(SyncEvent.Disconnected.class)).isEmpty();
    assertThat(cp.connectionCount()).isEqualTo(1);
    assertThat(proxy.connectionsAccepted()).isEqualTo(1);
    assertThat(snapshots).extracting(ConfigSnapshot::hash).containsExactly(v1, v2);
  }

  @Test
  void aPushSlowerThanDeadAfterStillArrivesBecauseBytesCountAsLife() throws Exception {
    // Connect over a fast link first, then slow it down: 45 kB at 16 KiB/s take about 3 s, twice
    // deadAfter. Whole frames alone would never arrive in time (the node would cut the push and
    // retry for ever); the bytes trickling in keep the connection alive.
    ConfigSyncClient client =
        start(
            viaProxy(),
            b -> b.heartbeatInterval(Duration.ofSeconds(1)).deadAfter(Duration.ofMillis(1500)));
    await().until(() -> client.status().state() == dev.configsync.SyncState.CONNECTED);
    proxy.bandwidth(16 * 1024);
    long pushedAt = System.nanoTime();
    String v1 = cp.publish(bulkyConfig("v1", 90, 1));
    await().atMost(Duration.ofSeconds(30)).until(() -> v1.equals(client.status().hash()));
    long tookMillis = (System.nanoTime() - pushedAt) / 1_000_000;
    assertThat(tookMillis).as("the push took longer than deadAfter").isGreaterThan(1500);
    assertThat(seen(SyncEvent.Disconnected.class)).isEmpty();
    assertThat(proxy.connectionsAccepted()).isEqualTo(1);
  }
}
