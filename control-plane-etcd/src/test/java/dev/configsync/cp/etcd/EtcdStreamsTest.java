package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.cp.etcd.internal.rpc.KeyValue;
import dev.configsync.testkit.FaultProxy;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The store's gRPC transport on a real 3-member etcd: the watch stream resumes by revision after
 * the member serving it dies, the lease lives on its keep-alive stream, and one channel carries
 * every call (no connection per call).
 */
class EtcdStreamsTest {
  private static final Duration LEASE_TTL = Duration.ofSeconds(2);
  @AutoClose private static EtcdCluster etcd;

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void startEtcd() throws IOException {
    etcd = EtcdCluster.start(3);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private static EtcdSettings settings(List<URI> endpoints, String prefix, String replica) {
    return new EtcdSettings(
        endpoints,
        prefix,
        replica,
        LEASE_TTL,
        Duration.ofSeconds(3),
        Duration.ofMillis(200),
        Duration.ofSeconds(5),
        null);
  }

  /** A session whose only part records every version of the configuration key it is handed. */
  private EtcdSession recordingSession(
      List<URI> endpoints, String prefix, List<Long> configRevisions) {
    EtcdSettings settings = settings(endpoints, prefix, "watcher");
    EtcdSession session = new EtcdSession(settings);
    session.add(
        new EtcdSession.Part() {
          @Override
          public void flush() {}

          @Override
          public void reset() {}

          @Override
          public void onKey(String key, KeyValue kv, boolean deleted) {
            if (key.equals(settings.configKey()) && !deleted) {
              configRevisions.add(kv.getModRevision());
            }
          }

          @Override
          public void endOfBatch() {}
        });
    closeables.add(session::close);
    return session;
  }

  private EtcdConfigStore publisher(String prefix) {
    EtcdConfigStore store =
        EtcdConfigStore.builder()
            .endpoints(etcd.endpoints())
            .prefix(prefix)
            .replicaName("publisher")
            .requestTimeout(Duration.ofSeconds(3))
            .unavailableAfter(Duration.ofSeconds(10))
            .build();
    closeables.add(store);
    return store;
  }

  /** How many watch streams member {@code i} serves, from its Prometheus metrics. */
  private long watchStreams(int i) throws IOException, InterruptedException {
    HttpResponse<String> metrics =
        http.send(
            HttpRequest.newBuilder(etcd.endpoint(i).resolve("/metrics")).build(),
            HttpResponse.BodyHandlers.ofString());
    for (String line : metrics.body().split("\n", -1)) {
      if (line.startsWith("etcd_debugging_mvcc_watch_stream_total ")) {
        return (long) Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
      }
    }
    return 0;
  }

  @Test
  void theWatchResumesByRevisionAfterTheMemberServingItDiesAndMissesNoPublish() throws Exception {
    String prefix = "/streams/resume/";
    EtcdConfigStore publisher = publisher(prefix);
    assertThat(publisher.load()).isEmpty();
    List<Long> published = new ArrayList<>();
    String previous = null;
    for (int i = 1; i <= 3; i++) {
      String hash = String.format("%032d", i);
      published.add(publisher.save(TestFrames.reconfigure(hash), hash, previous));
      previous = hash;
    }
    List<Long> seen = new CopyOnWriteArrayList<>();
    EtcdSession watcher = recordingSession(etcd.endpoints(), prefix, seen);
    watcher.start();
    await().atMost(Duration.ofSeconds(30)).until(() -> seen.contains(published.get(2)));

    int serving = -1;
    for (int i = 0; i < etcd.size() && serving < 0; i++) {
      if (watchStreams(i) > 0) {
        serving = i;
      }
    }
    assertThat(serving).as("the member serving the watch stream").isNotNegative();
    etcd.kill(serving);
    try {
      for (int i = 4; i <= 8; i++) {
        String hash = String.format("%032d", i);
        published.add(publisher.save(TestFrames.reconfigure(hash), hash, previous));
        previous = hash;
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> seen.contains(published.get(published.size() - 1)));
      // The start reads the latest version (revision 3's); then every publish after it, once each,
      // in order, though the stream broke in between.
      assertThat(seen).containsExactlyElementsOf(published.subList(2, published.size()));
    } finally {
      etcd.restart(serving);
    }
  }

  @Test
  void theLeaseLivesOnItsKeepAliveStreamForManyTtls() throws Exception {
    String prefix = "/streams/lease/";
    EtcdSession session = recordingSession(etcd.endpoints(), prefix, new ArrayList<>());
    session.start();
    await().atMost(Duration.ofSeconds(30)).until(() -> session.leaseId() != 0);
    long lease = session.leaseId();
    // Four TTLs: the replica's key stays, under the same lease (never taken again).
    await()
        .during(LEASE_TTL.multipliedBy(4))
        .atMost(LEASE_TTL.multipliedBy(6))
        .until(
            () ->
                etcd.keys(prefix + "replicas/").contains(prefix + "replicas/watcher")
                    && session.leaseId() == lease);
  }

  @Test
  void oneChannelCarriesEveryCallWithoutAConnectionPerCall() throws Exception {
    String prefix = "/streams/channel/";
    List<FaultProxy> proxies = new ArrayList<>();
    List<URI> endpoints = new ArrayList<>();
    for (URI e : etcd.endpoints()) {
      FaultProxy proxy = FaultProxy.start("127.0.0.1", e.getPort());
      closeables.add(proxy);
      proxies.add(proxy);
      endpoints.add(URI.create("http://127.0.0.1:" + proxy.port()));
    }
    EtcdConfigStore store =
        EtcdConfigStore.builder()
            .endpoints(endpoints)
            .prefix(prefix)
            .replicaName("one-channel")
            .leaseTtl(LEASE_TTL)
            .flushInterval(Duration.ofMillis(100))
            .requestTimeout(Duration.ofSeconds(3))
            .unavailableAfter(Duration.ofSeconds(10))
            .build();
    closeables.add(store);
    store.watch((payload, hash, revision) -> {});
    assertThat(store.load()).isEmpty();
    String previous = null;
    for (int i = 1; i <= 20; i++) {
      String hash = String.format("%032d", i);
      store.save(TestFrames.reconfigure(hash), hash, previous);
      previous = hash;
      assertThat(store.history(5)).isPresent();
    }
    // 40 calls above, plus a lease, a heartbeat every round and the watch: at most one
    // connection per member, kept for all of them.
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(() -> proxies.stream().mapToInt(FaultProxy::connectionsAccepted).sum() <= 3);
  }
}
