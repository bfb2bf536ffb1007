package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.configsync.cp.ConfigStore;
import io.grpc.Status;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.core.ConditionFactory;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * How the store keeps configurations larger than one etcd request: in chunks written before the
 * commit that points at them, read back whole at the pointer's revision, collected once no
 * configuration in force needs them; and the change log written with each publish. Against a real
 * one-member etcd cluster with its default limits, with chunks of 4 KiB so that small frames are
 * split; a {@link GrpcProxy} plays the member that refuses a commit after the chunks were written.
 */
class ChunkedConfigTest {
  private static final int CHUNK = 4096;
  private static final String H1 = "11111111111111111111111111111111";
  private static final String H2 = "22222222222222222222222222222222";
  private static final String H3 = "33333333333333333333333333333333";

  @AutoClose private static EtcdCluster etcd;

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeAll
  static void startEtcd() throws IOException {
    etcd = EtcdCluster.start(1);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private static ConditionFactory eventually() {
    return await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20));
  }

  private EtcdConfigStore store(String prefix, String name, @Nullable GrpcProxy proxy) {
    List<URI> endpoints = proxy == null ? etcd.endpoints() : List.of(proxy.endpoint());
    EtcdConfigStore store =
        EtcdConfigStore.builder()
            .endpoints(endpoints)
            .prefix(prefix)
            .replicaName(name)
            .requestTimeout(Duration.ofSeconds(5))
            .unavailableAfter(Duration.ofSeconds(10))
            .flushInterval(Duration.ofMillis(50))
            .chunkBytes(CHUNK)
            .build();
    closeables.add(store);
    return store;
  }

  /** What a store's watch handed over. */
  @SuppressWarnings("ArrayRecordComponent") // compared by content in the assertions
  record Taken(byte[] payload, String hash, long revision, byte @Nullable [] delta) {}

  private static List<Taken> watch(EtcdConfigStore store) {
    List<Taken> taken = new CopyOnWriteArrayList<>();
    store.watch(
        new ConfigStore.Listener() {
          @Override
          public void changed(byte[] payload, String hash, long revision) {
            taken.add(new Taken(payload, hash, revision, null));
          }

          @Override
          public void changed(byte[] payload, String hash, long revision, byte @Nullable [] delta) {
            taken.add(new Taken(payload, hash, revision, delta));
          }
        });
    return taken;
  }

  private static List<String> chunksOf(String prefix, byte[] frame) throws IOException {
    return etcd.keys(prefix + "~blobs/" + ChunkedFrames.sha256(frame) + "/");
  }

  @Test
  void aLargeFrameIsStoredInChunksReadBackWholeAndCollectedOnceReplaced() throws Exception {
    String prefix = "/chunks/layout/";
    byte[] first = TestFrames.reconfigure(H1, 40_000, 1);
    byte[] second = TestFrames.reconfigure(H2, 40_000, 2);
    assertThat(first.length).isGreaterThan(3 * CHUNK);
    EtcdConfigStore a = store(prefix, "a", null);
    EtcdConfigStore b = store(prefix, "b", null);
    assertThat(a.load()).isEmpty();
    assertThat(b.load()).isEmpty();
    List<Taken> onB = watch(b);
    watch(a); // starts a's scheduler, which collects after a's publishes

    long r1 = a.save(first, H1, null);

    assertThat(chunksOf(prefix, first)).hasSize((first.length + CHUNK - 1) / CHUNK);
    // The pointer is a small manifest, not the frame.
    assertThat(etcd.history(prefix + "config").get(0).text())
        .contains(ChunkedFrames.sha256(first))
        .contains(H1);
    eventually().until(() -> onB.size() == 1);
    assertThat(onB.get(0).payload()).isEqualTo(first);
    assertThat(onB.get(0).hash()).isEqualTo(H1);
    assertThat(onB.get(0).revision()).isEqualTo(r1);
    EtcdConfigStore c = store(prefix, "c", null);
    assertThat(c.load()).get().isEqualTo(first);
    assertThat(c.loadedRevision()).isEqualTo(r1);

    long r2 = a.save(second, H2, H1);
    eventually().until(() -> onB.size() == 2);
    assertThat(onB.get(1).payload()).isEqualTo(second);
    assertThat(onB.get(1).revision()).isEqualTo(r2);
    eventually().until(() -> chunksOf(prefix, first).isEmpty());
    assertThat(chunksOf(prefix, second)).hasSize((second.length + CHUNK - 1) / CHUNK);

    // A small frame stays in the commit itself; the large one's chunks go.
    byte[] third = TestFrames.reconfigure(H3);
    a.save(third, H3, H2);
    eventually().until(() -> etcd.keys(prefix + "~blobs/").isEmpty());
    eventually().until(() -> onB.size() == 3);
    assertThat(onB.get(2).payload()).isEqualTo(third);
    // Every chunk went through its own request, under etcd's default request limit, and the
    // history of the compared key is one write per publish.
    assertThat(etcd.history(prefix + "config-hash"))
        .extracting(EtcdCluster.Version::text)
        .containsExactly(H3, H2, H1);
  }

  @Test
  void aCommitRefusedAfterItsChunksLeavesTheOldConfigurationAndTheOrphansAreCollected()
      throws Exception {
    String prefix = "/chunks/torn/";
    // The second transaction (a's second commit) is refused after its chunks were written.
    GrpcProxy[] self = new GrpcProxy[1];
    GrpcProxy proxy =
        new GrpcProxy(
            etcd.endpoint(0),
            (n, body) -> {
              if (n == 2) {
                throw Status.RESOURCE_EXHAUSTED
                    .withDescription("etcdserver: mvcc: database space exceeded")
                    .asException();
              }
              return self[0].forward(body);
            });
    self[0] = proxy;
    closeables.add(proxy);
    byte[] first = TestFrames.reconfigure(H1, 40_000, 1);
    byte[] torn = TestFrames.reconfigure(H2, 40_000, 2);
    EtcdConfigStore a = store(prefix, "a", proxy);
    assertThat(a.load()).isEmpty();
    a.save(first, H1, null);

    assertThatThrownBy(() -> a.save(torn, H2, H1))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("database space exceeded");

    // The chunks are there, nothing points at them: every replica still reads the first frame.
    assertThat(chunksOf(prefix, torn)).isNotEmpty();
    EtcdConfigStore b = store(prefix, "b", null);
    assertThat(b.load()).get().isEqualTo(first);
    assertThat(etcd.history(prefix + "config-hash"))
        .extracting(EtcdCluster.Version::text)
        .containsExactly(H1);
    // The next publish, by any replica, collects them (and the replaced frame's).
    watch(b);
    b.save(TestFrames.reconfigure(H3), H3, H1);
    eventually().until(() -> etcd.keys(prefix + "~blobs/").isEmpty());
    assertThat(b.load()).get().isEqualTo(TestFrames.reconfigure(H3));
  }

  @Test
  void theChangeOfAPublishReachesTheOtherReplicasWithItsConfigurationAndTheLogIsBounded()
      throws Exception {
    String prefix = "/chunks/changes/";
    EtcdConfigStore a = store(prefix, "a", null);
    EtcdConfigStore b = store(prefix, "b", null);
    assertThat(a.load()).isEmpty();
    assertThat(b.load()).isEmpty();
    List<Taken> onB = watch(b);
    watch(a);
    a.save(TestFrames.reconfigure(H1, 40_000, 1), H1, null, null);
    // One at a time: the watch may hand over only the newest of publishes that come together.
    eventually().until(() -> onB.size() == 1);
    assertThat(onB.get(0).delta()).isNull();
    byte[] change = TestFrames.reconfigure("delta-1-2"); // opaque bytes to the store
    long r2 = a.save(TestFrames.reconfigure(H2, 40_000, 2), H2, H1, change);

    eventually().until(() -> onB.size() == 2);
    assertThat(onB.get(1).revision()).isEqualTo(r2);
    assertThat(onB.get(1).delta()).isEqualTo(change);

    // A change too large for one request is left out; the publish goes through.
    byte[] tooLarge = TestFrames.reconfigure("delta-2-3", 4 * CHUNK, 3);
    assertThat(tooLarge.length).isGreaterThan(CHUNK);
    a.save(TestFrames.reconfigure(H3), H3, H2, tooLarge);
    eventually().until(() -> onB.size() == 3);
    assertThat(onB.get(2).delta()).isNull();

    // The log keeps the newest changes only.
    String previous = H3;
    for (int i = 0; i < PublishLog.CHANGES_KEPT + 4; i++) {
      String next = String.format("%032d", i + 100);
      a.save(TestFrames.reconfigure(next), next, previous, TestFrames.reconfigure("d" + i));
      previous = next;
    }
    eventually().until(() -> etcd.keys(prefix + "changes/").size() == PublishLog.CHANGES_KEPT);
  }
}
