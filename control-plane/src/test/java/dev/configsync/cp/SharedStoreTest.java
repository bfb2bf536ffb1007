package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigHashes;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.ConfigDiff;
import dev.configsync.internal.delta.DeltaFrame;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The hooks a shared store (several control plane replicas) uses: compare-and-set publishes and 409
 * conflicts, configurations published elsewhere fanned out without being saved again, the degraded
 * state, and the fleet view. The store here is a fake in memory; the real one on etcd is tested in
 * {@code configsync-control-plane-etcd}.
 */
class SharedStoreTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final FakeSharedStore store = new FakeSharedStore();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  /** A store shared with imaginary other replicas: compare-and-set, a watch, an outage switch. */
  static final class FakeSharedStore implements ConfigStore {
    private byte @Nullable [] payload;
    private String hash = ConfigHash.NONE;
    private @Nullable Listener listener;
    final AtomicInteger saves = new AtomicInteger();
    private long revision; // as etcd's: increases with every write
    volatile @Nullable String outage;
    volatile @Nullable String lostAnswer; // saves throw ConfigOutcomeUnknownException

    /** The watch hands over {@code config} at {@code revision}, whatever the store holds. */
    void deliver(String config, long revision) throws IOException {
      JsonNode table = Json.readFrozen(config.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      ConfigHashes hashes = ConfigHash.configHashes(table);
      byte[] frame =
          HybridProtocol.reconfigure(table, hashes, Instant.now().toEpochMilli() / 1000.0, null);
      Listener l;
      synchronized (this) {
        l = listener;
      }
      assertThat(l).as("the control plane watches its store").isNotNull();
      l.changed(frame, hashes.config(), revision);
    }

    synchronized long revision() {
      return revision;
    }

    @Override
    public synchronized Optional<byte[]> load() {
      return Optional.ofNullable(payload);
    }

    @Override
    public void save(byte[] payload, String hash) {
      throw new AssertionError("a shared store is saved with the expected previous hash");
    }

    @Override
    public synchronized long save(byte[] payload, String hash, @Nullable String expected)
        throws IOException {
      String down = outage;
      if (down != null) {
        throw new IOException(down);
      }
      String lost = lostAnswer;
      if (lost != null) {
        throw new ConfigOutcomeUnknownException(hash, lost, new IOException(lost));
      }
      String previous = expected == null ? ConfigHash.NONE : expected;
      if (!previous.equals(this.hash)) {
        throw new ConfigConflictException(this.hash, "expected " + previous);
      }
      this.payload = payload.clone();
      this.hash = hash;
      saves.incrementAndGet();
      return ++revision;
    }

    @Override
    public synchronized void watch(Listener listener) {
      this.listener = listener;
    }

    @Override
    public Optional<String> unavailable() {
      return Optional.ofNullable(outage);
    }

    @Override
    public String describe() {
      return "a fake shared store";
    }

    /** Another replica publishes {@code config}: stored, then this replica's watch hears of it. */
    void publishElsewhere(String config) throws IOException {
      JsonNode table = Json.readFrozen(config.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      ConfigHashes hashes = ConfigHash.configHashes(table);
      byte[] frame =
          HybridProtocol.reconfigure(table, hashes, Instant.now().toEpochMilli() / 1000.0, null);
      publishElsewhere(frame, hashes.config(), null);
    }

    /**
     * Another replica writes {@code payload}, with its change when {@code delta} is not null: this
     * replica hears of both.
     */
    void publishElsewhere(byte[] payload, String hash, byte @Nullable [] delta) {
      Listener l;
      long at;
      synchronized (this) {
        this.payload = payload.clone();
        this.hash = hash;
        at = ++revision;
        l = listener;
      }
      assertThat(l).as("the control plane watches its store").isNotNull();
      l.changed(payload, hash, at, delta);
    }
  }

  private void start(@Nullable FleetDirectory fleet) throws IOException {
    f.start(
        b -> {
          b.configStore(store).admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
          return fleet == null ? b : b.fleetDirectory(fleet);
        });
  }

  private HttpResponse<String> admin(HttpRequest.Builder request) throws Exception {
    return http.send(
        request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + f.cp.adminAddress().orElseThrow().getPort() + path);
  }

  private HttpResponse<String> put(String body, @Nullable String ifMatch) throws Exception {
    HttpRequest.Builder r =
        HttpRequest.newBuilder(uri("/config"))
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString(body));
    if (ifMatch != null) {
      r.header("If-Match", ifMatch);
    }
    return admin(r);
  }

  /** A node of this replica's, once the replica lists it. */
  private ConfigSyncClient connectedNode(List<ConfigSnapshot> snapshots, List<SyncEvent> events) {
    ConfigSyncClient node = f.startClient(b -> b, snapshots, events);
    await().atMost(Duration.ofSeconds(20)).until(() -> f.cp.dataPlanes().size() == 1);
    return node;
  }

  @Test
  void aConfigurationPublishedByAnotherReplicaReachesThisReplicasNodesWithoutBeingSavedAgain()
      throws Exception {
    start(null);
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    ConfigSyncClient node = connectedNode(snapshots, events);

    store.publishElsewhere("{\"services\":[{\"name\":\"from-b\"}]}");

    String hash = f.cp.currentConfig().orElseThrow().hash();
    await().atMost(Duration.ofSeconds(20)).until(() -> node.current().isPresent());
    assertThat(node.current().orElseThrow().hash()).isEqualTo(hash);
    assertThat(store.saves).hasValue(0);

    // The same configuration heard again (this replica's own publish coming back) is not resent.
    int applied = snapshots.size();
    store.publishElsewhere("{\"services\":[{\"name\":\"from-b\"}]}");
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(hash);
    assertThat(snapshots).hasSize(applied);
  }

  /**
   * A configuration another replica wrote with its change (an entity edit there): this replica
   * applies the change to the configuration it serves instead of decoding and hashing the whole
   * payload, and sends it as it came to its nodes on the base. The payload here is not a
   * configuration at all, so a replica that decoded it would log it as unreadable and keep the
   * base: only the change can have made the node's configuration.
   */
  @Test
  void aChangeAnotherReplicaWroteIsAppliedToTheConfigurationInForceNotDecodedWhole()
      throws Exception {
    start(null);
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    ConfigSyncClient node = connectedNode(snapshots, events);
    String baseJson = "{\"services\":[{\"name\":\"a\"},{\"name\":\"b\"}]}";
    store.publishElsewhere(baseJson);
    String base = f.cp.currentConfig().orElseThrow().hash();
    // A change goes to a node that reported its base in a ping.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> f.cp.dataPlanes().stream().anyMatch(n -> n.configHash().equals(base)));

    JsonNode target =
        Json.readFrozen(
            "{\"services\":[{\"name\":\"a\"},{\"name\":\"b\",\"port\":8080}]}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    ConfigHashes hashes = ConfigHash.configHashes(target);
    byte[] delta =
        new DeltaFrame(
                base,
                hashes,
                2,
                Instant.now().toEpochMilli() / 1000.0,
                ConfigDiff.diff(
                    Json.readFrozen(baseJson.getBytes(java.nio.charset.StandardCharsets.UTF_8)),
                    target))
            .encode();
    store.publishElsewhere(new byte[] {'n', 'o', 't'}, hashes.config(), delta);

    SyncEvent.SnapshotApplied applied =
        await()
            .atMost(Duration.ofSeconds(20))
            .until(
                () ->
                    events.stream()
                        .filter(SyncEvent.SnapshotApplied.class::isInstance)
                        .map(SyncEvent.SnapshotApplied.class::cast)
                        .filter(e -> e.hash().equals(hashes.config()))
                        .findFirst()
                        .orElse(null),
                java.util.Objects::nonNull);
    assertThat(applied.delta()).as("came as reconfigure_delta").isTrue();
    assertThat(applied.entitiesChanged()).isEqualTo(1);
    assertThat(node.current().orElseThrow().config()).isEqualTo(target);
    assertThat(f.cp.currentConfig().orElseThrow().config()).isEqualTo(target);
    assertThat(store.saves).hasValue(0);
  }

  @Test
  void aRevisionAtOrBelowTheOneServedIsNeverTakenFromTheStore() throws Exception {
    start(null);
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    ConfigSyncClient node = f.startClient(b -> b, snapshots, new CopyOnWriteArrayList<>());
    await().atMost(Duration.ofSeconds(20)).until(() -> f.cp.dataPlanes().size() == 1);
    f.cp.publish("{\"v\":1}");
    long r1 = store.revision();
    String v2 = f.cp.publish("{\"v\":2}").hash();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> node.current().isPresent() && node.current().get().hash().equals(v2));
    int applied = snapshots.size();

    // The watch hands back publish 1 late (issue 15): older than what is served, so ignored.
    store.deliver("{\"v\":1}", r1);
    // The same revision as served (this replica's own publish 2 coming back): ignored too.
    store.deliver("{\"v\":\"other\"}", store.revision());
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(v2);

    // A newer revision is taken and sent.
    store.deliver("{\"v\":3}", store.revision() + 1);
    String v3 = f.cp.currentConfig().orElseThrow().hash();
    assertThat(v3).isNotEqualTo(v2);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> node.current().orElseThrow().hash().equals(v3));
    assertThat(snapshots.subList(applied, snapshots.size()))
        .extracting(ConfigSnapshot::hash)
        .containsExactly(v3);
  }

  @Test
  void aPublishWithAnUnknownOutcomeAnswers504AndTheHistoryShowsWhatHappened() throws Exception {
    start(null);
    String v1 = JSON.readTree(put("{\"v\":1}", null).body()).path("hash").asText();
    store.lostAnswer = "etcd at http://etcd-1:2379 did not answer a write it may have applied";

    HttpResponse<String> unknown = put("{\"v\":2}", null);
    assertThat(unknown.statusCode()).as(unknown.body()).isEqualTo(504);
    JsonNode body = JSON.readTree(unknown.body());
    assertThat(body.path("error").asText()).isEqualTo("publish_outcome_unknown");
    assertThat(body.path("message").asText())
        .contains("may or may not have applied")
        .contains("GET /config/history")
        .doesNotContain("nothing was published");
    String attempted = body.path("attempted_hash").asText();
    assertThat(attempted).isNotEqualTo(v1);
    assertThat(body.path("current_hash").asText()).isEqualTo(v1);
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(v1);

    // The write committed after all: the watch brings it, and the history lists it.
    store.lostAnswer = null;
    store.deliver("{\"v\":2}", store.revision() + 5);
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(attempted);
    JsonNode history =
        JSON.readTree(admin(HttpRequest.newBuilder(uri("/config/history")).GET()).body());
    assertThat(history.path("current_hash").asText()).isEqualTo(attempted);
    assertThat(history.path("data").get(0).path("hash").asText()).isEqualTo(attempted);
    assertThat(history.path("data").get(1).path("hash").asText()).isEqualTo(v1);
    assertThat(history.path("data")).hasSize(2);
    assertThat(f.cp.history(1)).extracting(ConfigVersion::hash).containsExactly(attempted);

    HttpResponse<String> badLimit =
        admin(HttpRequest.newBuilder(uri("/config/history?limit=0")).GET());
    assertThat(badLimit.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(badLimit.body()).path("error").asText()).isEqualTo("invalid_limit");
  }

  @Test
  void aPublishBasedOnAnOutdatedConfigurationIsAConflictThatChangesNothing() throws Exception {
    start(null);
    f.cp.publish("{\"services\":[{\"name\":\"v1\"}]}");
    String v1 = f.cp.currentConfig().orElseThrow().hash();
    assertThat(store.saves).hasValue(1);

    // Another replica publishes v2 but this replica has not heard of it yet: its own view is v1.
    FakeSharedStore shared = store;
    synchronized (shared) {
      ConfigHashes v2 =
          ConfigHash.configHashes(
              Json.readFrozen("{\"v\":2}".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      shared.hash = v2.config();
    }
    String v2hash = shared.hash;

    assertThatThrownBy(() -> f.cp.publish("{\"services\":[{\"name\":\"v3\"}]}"))
        .isInstanceOf(PublishConflictException.class)
        .hasMessageContaining("another control plane replica published configuration " + v2hash)
        .satisfies(e -> assertThat(((PublishConflictException) e).currentHash()).isEqualTo(v2hash));
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(v1);

    HttpResponse<String> response = put("{\"services\":[{\"name\":\"v3\"}]}", null);
    assertThat(response.statusCode()).isEqualTo(409);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.path("error").asText()).isEqualTo("conflict");
    assertThat(body.path("current_hash").asText()).isEqualTo(v2hash);
    assertThat(body.path("message").asText()).contains("read it again, merge your change");
    assertThat(response.headers().firstValue("ETag")).hasValue("\"" + v2hash + "\"");
    assertThat(store.saves).hasValue(1);
  }

  @Test
  void ifMatchPublishesOnlyOverTheExpectedConfiguration() throws Exception {
    start(null);
    HttpResponse<String> first = put("{\"v\":1}", "\"" + ConfigHash.NONE + "\"");
    assertThat(first.statusCode()).isEqualTo(200);
    String v1 = JSON.readTree(first.body()).path("hash").asText();

    HttpResponse<String> stale = put("{\"v\":2}", "\"" + ConfigHash.NONE + "\"");
    assertThat(stale.statusCode()).isEqualTo(409);
    assertThat(JSON.readTree(stale.body()).path("current_hash").asText()).isEqualTo(v1);
    assertThat(JSON.readTree(stale.body()).path("message").asText())
        .contains("not the expected " + ConfigHash.NONE);

    HttpResponse<String> fresh = put("{\"v\":2}", "W/\"" + v1 + "\"");
    assertThat(fresh.statusCode()).isEqualTo(200);
    assertThat(store.saves).hasValue(2);

    HttpResponse<String> malformed = put("{\"v\":3}", "\"nope\"");
    assertThat(malformed.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(malformed.body()).path("error").asText())
        .isEqualTo("invalid_if_match");
    assertThat(store.saves).hasValue(2);
  }

  @Test
  void anUnavailableStoreMakesTheReplicaDegradedAndRefusesPublishesButNodesStillGetItsConfig()
      throws Exception {
    start(null);
    f.cp.publish("{\"services\":[{\"name\":\"kept\"}]}");
    String hash = f.cp.currentConfig().orElseThrow().hash();
    store.outage = "etcd unreachable since 12:00:00 (connection refused)";

    HttpResponse<String> status = admin(HttpRequest.newBuilder(uri("/status")).GET());
    assertThat(status.statusCode()).isEqualTo(200);
    JsonNode body = JSON.readTree(status.body());
    assertThat(body.path("status").asText()).isEqualTo("degraded");
    assertThat(body.path("degraded_reason").asText()).contains("etcd unreachable");

    HttpResponse<String> refused = put("{\"v\":9}", null);
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(refused.body()).path("error").asText()).isEqualTo("store_unavailable");
    assertThat(JSON.readTree(refused.body()).path("message").asText())
        .contains("etcd unreachable")
        .contains("nothing was published");

    // A node that connects during the outage still gets the configuration this replica knows.
    ConfigSyncClient node =
        f.startClient(b -> b, new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>());
    await().atMost(Duration.ofSeconds(20)).until(() -> node.current().isPresent());
    assertThat(node.current().orElseThrow().hash()).isEqualTo(hash);

    store.outage = null;
    assertThat(
            JSON.readTree(admin(HttpRequest.newBuilder(uri("/status")).GET()).body())
                .path("status")
                .asText())
        .isEqualTo("ok");
  }

  @Test
  void dataPlanesListsTheWholeFleetOncePerNodePreferringTheReplicaItIsConnectedTo()
      throws Exception {
    Instant t = Instant.parse("2024-06-01T12:00:00Z");
    List<DataPlaneInfo> remote = new CopyOnWriteArrayList<>();
    AtomicInteger started = new AtomicInteger();
    FleetDirectory directory =
        new FleetDirectory() {
          @Override
          public void start(Supplier<List<DataPlaneInfo>> local) {
            started.incrementAndGet();
          }

          @Override
          public List<DataPlaneInfo> remote() {
            return List.copyOf(remote);
          }
        };
    start(directory);
    assertThat(started).hasValue(1);
    ConfigSyncClient node =
        f.startClient(
            b -> b.nodeHostname("dp-local"),
            new CopyOnWriteArrayList<>(),
            new CopyOnWriteArrayList<>());
    await().atMost(Duration.ofSeconds(20)).until(() -> f.cp.dataPlanes().size() == 1);
    String localId = f.cp.dataPlanes().get(0).id();

    remote.add(info("11111111-1111-4111-8111-111111111111", "dp-remote", true, t));
    // Another replica still lists the local node, disconnected: the live connection wins.
    remote.add(info(localId, "dp-local", false, t.plusSeconds(3600)));

    List<DataPlaneInfo> fleet = f.cp.dataPlanes();
    assertThat(fleet).extracting(DataPlaneInfo::hostname).containsExactly("dp-local", "dp-remote");
    assertThat(fleet).allSatisfy(n -> assertThat(n.connected()).isTrue());

    HttpResponse<String> listed =
        admin(HttpRequest.newBuilder(uri("/clustering/data-planes")).GET());
    assertThat(JSON.readTree(listed.body()).path("data")).hasSize(2);
    node.close();
  }

  private static DataPlaneInfo info(String id, String host, boolean connected, Instant at) {
    return new DataPlaneInfo(
        id,
        host,
        "127.0.0.1",
        "0.1.0",
        Map.of(),
        Map.of(),
        connected,
        at,
        at,
        ConfigHash.NONE,
        DataPlaneSyncStatus.UNKNOWN,
        "",
        Optional.empty());
  }
}
