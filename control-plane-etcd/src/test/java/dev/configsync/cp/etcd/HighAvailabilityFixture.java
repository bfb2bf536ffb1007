package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.ServerTls;
import dev.configsync.cp.UsageReport;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;
import okhttp3.tls.HeldCertificate;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInfo;

/**
 * A highly available control plane for real: a 3-member etcd cluster of {@code etcd} processes,
 * control plane replicas (in this JVM, and one in a child JVM for the crash), and configsync data
 * plane clients over mutual TLS, all on 127.0.0.1. Each test has its own key prefix in the shared
 * cluster. The tests are in two classes ({@link HighAvailabilityTest}, {@link
 * HighAvailabilityLargeTest}), each with a cluster of its own, so that the module's two test JVMs
 * share them out.
 */
abstract class HighAvailabilityFixture {
  static final Duration HEARTBEAT = Duration.ofMillis(200);
  static final Duration LEASE_TTL = Duration.ofSeconds(2);
  // Above the request timeout (3 s): one call that fails during a slow leader election on a loaded
  // machine must not make a replica degraded by itself.
  static final Duration UNAVAILABLE_AFTER = Duration.ofSeconds(5);
  static final ObjectMapper JSON = new ObjectMapper();

  static EtcdCluster etcd;
  static TestPki pki;

  final List<AutoCloseable> closeables = new ArrayList<>();
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  String prefix;

  @BeforeAll
  static void startEtcd() throws IOException {
    etcd = EtcdCluster.start(3);
    pki = TestPki.create();
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  @org.junit.jupiter.api.BeforeEach
  void prefix(TestInfo test) {
    prefix = "/t/" + test.getTestMethod().orElseThrow().getName() + "/";
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  static ConditionFactory eventually() {
    return await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20));
  }

  // ---- fixtures
  // ----------------------------------------------------------------------------------

  record Replica(String name, ControlPlaneServer cp, EtcdConfigStore store) {
    URI outlet() {
      return URI.create("wss://localhost:" + cp.address().getPort());
    }

    int adminPort() {
      return cp.adminAddress().orElseThrow().getPort();
    }
  }

  EtcdConfigStore store(String name, List<URI> endpoints) {
    EtcdConfigStore store =
        EtcdConfigStore.builder()
            .endpoints(endpoints)
            .prefix(prefix)
            .replicaName(name)
            .leaseTtl(LEASE_TTL)
            .requestTimeout(Duration.ofSeconds(3))
            .flushInterval(Duration.ofMillis(100))
            .unavailableAfter(UNAVAILABLE_AFTER)
            .build();
    closeables.add(store);
    return store;
  }

  Replica replica(String name) throws IOException {
    return replica(name, etcd.endpoints());
  }

  Replica replica(String name, List<URI> endpoints) throws IOException {
    return replica(name, endpoints, b -> {});
  }

  Replica replica(String name, List<URI> endpoints, Consumer<ControlPlaneServer.Builder> custom)
      throws IOException {
    EtcdConfigStore store = store(name, endpoints);
    HeldCertificate cert = pki.controlPlaneCertificate();
    ControlPlaneServer.Builder builder =
        ControlPlaneServer.builder()
            .tls(
                ServerTls.pkiFromPem(
                    cert.certificatePem(), cert.privateKeyPkcs8Pem(), pki.ca().certificatePem()))
            .listen("127.0.0.1", 0)
            .admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .heartbeatInterval(HEARTBEAT)
            .handshakeTimeout(Duration.ofSeconds(5))
            .ioThreads(2)
            .configStore(store)
            .fleetDirectory(store);
    custom.accept(builder);
    ControlPlaneServer cp = builder.start();
    closeables.add(cp);
    return new Replica(name, cp, store);
  }

  ConfigSyncClient node(String hostname, List<URI> controlPlanes, List<ConfigSnapshot> applied) {
    return node(hostname, controlPlanes, applied, new Random(), new CopyOnWriteArrayList<>());
  }

  ConfigSyncClient node(
      String hostname,
      List<URI> controlPlanes,
      List<ConfigSnapshot> applied,
      RandomGenerator random,
      List<SyncEvent> events) {
    return node(hostname, controlPlanes, applied, random, events, b -> {});
  }

  ConfigSyncClient node(
      String hostname,
      List<URI> controlPlanes,
      List<ConfigSnapshot> applied,
      RandomGenerator random,
      List<SyncEvent> events,
      Consumer<ConfigSyncClient.Builder> custom) {
    ConfigSyncClient.Builder builder =
        ConfigSyncClient.builder()
            .controlPlanes(controlPlanes)
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .nodeHostname(hostname)
            .heartbeatInterval(HEARTBEAT)
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(150))
            .handshakeTimeout(Duration.ofSeconds(5))
            .random(random)
            .onSnapshot(applied::add)
            .onEvent(events::add);
    custom.accept(builder);
    ConfigSyncClient client = builder.build();
    closeables.add(client);
    client.start();
    return client;
  }

  HttpResponse<String> put(int adminPort, String config, String ifMatch) throws Exception {
    return put(adminPort, "/config", config, ifMatch);
  }

  /** {@code PUT path} (an entity's, say) on a replica's admin API. */
  HttpResponse<String> put(int adminPort, String path, String body, String ifMatch)
      throws Exception {
    HttpRequest.Builder r =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
            .timeout(Duration.ofSeconds(20))
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString(body));
    if (ifMatch != null) {
      r.header("If-Match", "\"" + ifMatch + "\"");
    }
    return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  JsonNode get(int adminPort, String path) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
                .timeout(Duration.ofSeconds(20))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    return JSON.readTree(response.body());
  }

  String publish(Replica r, String config) throws Exception {
    HttpResponse<String> response = put(r.adminPort(), config, null);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body()).path("hash").asText();
  }

  static String hashOf(ConfigSyncClient node) {
    return node.current().map(ConfigSnapshot::hash).orElse("none");
  }

  /** A random source whose first {@code nextInt(bound)} is 0, then as {@code delegate}. */
  static RandomGenerator firstPickZero(Random delegate) {
    return new RandomGenerator() {
      private final AtomicBoolean first = new AtomicBoolean(true);

      @Override
      public long nextLong() {
        return delegate.nextLong();
      }

      @Override
      public int nextInt(int bound) {
        return first.getAndSet(false) ? 0 : delegate.nextInt(bound);
      }
    };
  }

  /** One answer to a {@code PUT /config}, as a caller saw it. */
  record Answer(int caller, int status, String hash, boolean changed, String body) {}

  /** A configuration large enough that decoding it takes a while (the race window of issue 15). */
  static String sizable(String tag) {
    StringBuilder b = new StringBuilder("{\"tag\":\"").append(tag).append("\",\"services\":[");
    for (int i = 0; i < 400; i++) {
      b.append(i == 0 ? "" : ",")
          .append("{\"name\":\"svc-")
          .append(i)
          .append("\",\"url\":\"http://upstream-")
          .append(i)
          .append(".internal:8080/")
          .append(tag)
          .append("\"}");
    }
    return b.append("]}").toString();
  }

  static UsageReport local(Replica r) {
    return r.store().usageByReplica().get(r.name());
  }

  ConfigSyncClient usageNode(UUID id, Replica replica) {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(replica.outlet())
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .nodeId(id)
            .nodeHostname("gw-" + replica.name())
            .heartbeatInterval(HEARTBEAT)
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(150))
            .handshakeTimeout(Duration.ofSeconds(5))
            .usageFlushInterval(Duration.ofMillis(20))
            .build();
    closeables.add(client);
    client.start();
    return client;
  }
}
