package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.testkit.FaultProxy;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The two longest tests of high availability (a 100 MB configuration; a partitioned replica), in a
 * class of their own so that they run beside the others: see {@link HighAvailabilityFixture}.
 */
class HighAvailabilityLargeTest extends HighAvailabilityFixture {
  @Test
  void aHundredMegabyteConfigurationPublishesWithEtcdsDefaultLimitsAndReachesANodeOfAnother()
      throws Exception {
    // etcd runs with its defaults (--max-request-bytes 1.5 MiB): the frame goes in chunks.
    Consumer<ControlPlaneServer.Builder> large = b -> b.maxPayloadBytes(64L << 20);
    Replica a = replica("a", etcd.endpoints(), large);
    Replica b = replica("b", etcd.endpoints(), large);
    List<ConfigSnapshot> applied = new CopyOnWriteArrayList<>();
    ConfigSyncClient onB =
        node(
            "dp-on-b",
            List.of(b.outlet()),
            applied,
            new Random(),
            new CopyOnWriteArrayList<>(),
            n -> n.maxPayloadBytes(64L << 20));
    eventually().until(() -> b.cp().dataPlanes().stream().anyMatch(DataPlaneInfo::connected));
    byte[] json = BigConfig.json(17, 100 << 20);

    long start = System.nanoTime();
    dev.configsync.cp.PublishResult published =
        a.cp().publish(new String(json, StandardCharsets.UTF_8));
    long publishMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> hashOf(onB).equals(published.hash()));
    long reachedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

    assertThat(published.version()).isEqualTo(b.cp().history(1).get(0).revision());
    assertThat(b.cp().currentConfig().orElseThrow().hash()).isEqualTo(published.hash());
    int chunks = etcd.keys(prefix + "~blobs/").size();
    int expectedChunks =
        (published.payloadBytes() + SharedConfig.CHUNK_BYTES - 1) / SharedConfig.CHUNK_BYTES;
    assertThat(chunks).isEqualTo(expectedChunks);
    System.out.printf(
        "100 MB configuration: %d bytes of JSON, %d compressed in %d chunks; publish on A %d ms,"
            + " applied on a node of B %d ms after the publish started%n",
        json.length, published.payloadBytes(), chunks, publishMillis, reachedMillis);
  }

  @Test
  void aPartitionedReplicaReportsDegradedKeepsServingAndCatchesUpAfterwards() throws Exception {
    Replica a = replica("a");
    List<FaultProxy> proxies = new ArrayList<>();
    for (URI e : etcd.endpoints()) {
      FaultProxy proxy = FaultProxy.start("127.0.0.1", e.getPort());
      closeables.add(proxy);
      proxies.add(proxy);
    }
    Replica c =
        replica(
            "c", proxies.stream().map(p -> URI.create("http://127.0.0.1:" + p.port())).toList());
    List<ConfigSnapshot> appliedOnC = new CopyOnWriteArrayList<>();
    ConfigSyncClient onA = node("dp-a", List.of(a.outlet()), new CopyOnWriteArrayList<>());
    ConfigSyncClient onC = node("dp-c", List.of(c.outlet()), appliedOnC);
    String v1 = publish(a, "{\"v\":1}");
    eventually().until(() -> hashOf(onA).equals(v1) && hashOf(onC).equals(v1));
    int reloads = c.store().reloads();

    proxies.forEach(FaultProxy::blackhole);
    proxies.forEach(FaultProxy::reset);
    eventually()
        .until(() -> get(c.adminPort(), "/status").path("status").asText().equals("degraded"));
    assertThat(get(c.adminPort(), "/status").path("degraded_reason").asText())
        .contains("etcd unreachable since");
    HttpResponse<String> refused = put(c.adminPort(), "{\"v\":\"lost\"}", null);
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(refused.body()).path("message").asText())
        .contains("etcd unreachable since")
        .contains("publishing is refused until etcd is back")
        .contains("nothing was published");
    // A node that connects to the cut-off replica still gets the configuration it knows.
    ConfigSyncClient late = node("dp-late", List.of(c.outlet()), new CopyOnWriteArrayList<>());
    eventually().until(() -> hashOf(late).equals(v1));

    String v2 = publish(a, "{\"v\":2}");
    eventually().until(() -> hashOf(onA).equals(v2));
    assertThat(hashOf(onC)).isEqualTo(v1);
    assertThat(onC.isServing()).isTrue();

    // Back: the replica resumes its watch from the last revision it saw.
    proxies.forEach(FaultProxy::heal);
    eventually().until(() -> hashOf(onC).equals(v2) && hashOf(late).equals(v2));
    eventually().until(() -> get(c.adminPort(), "/status").path("status").asText().equals("ok"));
    assertThat(c.store().reloads()).isEqualTo(reloads);

    // Cut off again while etcd compacts the revisions it missed: it reloads the latest instead.
    proxies.forEach(FaultProxy::blackhole);
    proxies.forEach(FaultProxy::reset);
    eventually().until(() -> c.cp().degradedReason().isPresent());
    String v3 = publish(a, "{\"v\":3}");
    publish(a, "{\"v\":4}");
    String v5 = publish(a, "{\"v\":5}");
    etcd.compact();
    proxies.forEach(FaultProxy::heal);
    eventually().until(() -> hashOf(onC).equals(v5));
    assertThat(c.store().reloads()).isGreaterThan(reloads);
    assertThat(appliedOnC).extracting(ConfigSnapshot::hash).doesNotContain(v3);
    assertThat(put(c.adminPort(), "{\"v\":6}", v5).statusCode()).isEqualTo(200);
  }
}
