package dev.configsync;

import static dev.configsync.DeltaSyncTest.delta;
import static dev.configsync.DeltaSyncTest.routes;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterTry;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Write-ahead for changes: a {@code reconfigure_delta} is made durable as an append to the store's
 * journal (not a whole write) before it runs, the journal is replayed at start-up and compacted in
 * the background, and a crash at any point restarts the node on the newest configuration whose
 * append or write completed. See {@code docs/protocol.md}, "Cache journal".
 */
class CacheJournalTest {
  private final List<ConfigSyncClient> clients = new ArrayList<>();

  @AfterEach
  void closeClients() {
    clients.forEach(ConfigSyncClient::close);
    clients.clear();
  }

  /**
   * jqwik runs no {@code @AfterEach} between (or after) a property's tries: without this, every try
   * left its clients' threads running, and {@code SyncLoopTest}'s checks that a closed client
   * leaves no thread behind failed when it ran later in the same JVM.
   */
  @AfterTry
  void closeClientsAfterEachTry() {
    closeClients();
  }

  /** A client on a fake transport and {@code store}. */
  private final class Node {
    final List<SyncEvent> events = new CopyOnWriteArrayList<>();
    final List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    final ConfigSyncClient client;
    final FakeConnection c;

    Node(JournalingStore store, UnaryOperator<ConfigSyncClient.Builder> settings) {
      FakeTransport transport = new FakeTransport();
      client =
          settings
              .apply(
                  ConfigSyncClient.builder()
                      .controlPlane(URI.create("wss://cp.example.com:8005"))
                      .transport(transport)
                      .snapshotStore(store)
                      .nodeHostname("dp-1")
                      .scheduler(new ManualScheduler())
                      .random(new Random(42))
                      .clock(Clock.fixed(Instant.parse("2024-06-01T12:00:00Z"), ZoneOffset.UTC))
                      .listenerExecutor(Runnable::run)
                      .onEvent(events::add)
                      .onSnapshot(snapshots::add))
              .build();
      clients.add(client);
      client.start();
      c = transport.last();
      c.open();
    }

    Node(JournalingStore store) {
      this(store, b -> b);
    }

    String running() {
      return client.current().map(ConfigSnapshot::hash).orElse("");
    }

    void deliverAndAwait(byte[] payload, ObjectNode table) {
      c.deliver(payload);
      String hash = ConfigHash.configHash(table);
      eventually().until(() -> running().equals(hash));
    }

    <T extends SyncEvent> List<T> events(Class<T> type) {
      return events.stream().filter(type::isInstance).map(type::cast).toList();
    }
  }

  @Test
  void aChangeIsAppendedToTheJournalNotWrittenWholeAndReplayedAtStart() {
    JournalingStore store = new JournalingStore();
    Node n = new Node(store);
    ObjectNode a = routes(200);
    n.deliverAndAwait(HybridProtocol.reconfigure(a, 1.0), a);
    ObjectNode b = changed(a, 7, "/b");
    ObjectNode c = changed(b, 9, "/c");
    byte[] toB = delta(a, b, 2.0);
    byte[] toC = delta(b, c, 3.0);

    n.deliverAndAwait(toB, b);
    n.deliverAndAwait(toC, c);

    assertThat(store.writes()).isOne();
    assertThat(store.state().journal()).containsExactly(toB, toC);
    assertThat(n.events(SyncEvent.CacheWritten.class))
        .extracting(SyncEvent.CacheWritten::bytes)
        .containsExactly(
            (long) store.state().payload().length, (long) toB.length, (long) toC.length);

    Node restarted = new Node(new JournalingStore(store.state()));

    ConfigSnapshot running = restarted.client.current().orElseThrow();
    assertThat(running.hash()).isEqualTo(ConfigHash.configHash(c));
    assertThat(running.config()).isEqualTo(c);
    assertThat(running.source()).isEqualTo(SnapshotSource.CACHE);
    assertThat(running.timestamp()).isEqualTo(Instant.ofEpochSecond(3));
    assertThat(running.changes().initial()).isTrue();
    SyncEvent.SnapshotApplied applied = restarted.events(SyncEvent.SnapshotApplied.class).get(0);
    assertThat(applied.delta()).isFalse();
    assertThat(restarted.client.status().cacheState()).isEqualTo(CacheState.CURRENT);
  }

  @Test
  void theJournalIsCompactedIntoAWholeWriteOfTheNewestConfiguration() {
    JournalingStore store = new JournalingStore();
    Node n = new Node(store, b -> b.cacheJournal(2, 16));
    ObjectNode a = routes(20);
    n.deliverAndAwait(HybridProtocol.reconfigure(a, 1.0), a);
    ObjectNode b = changed(a, 1, "/b");
    ObjectNode c = changed(b, 2, "/c");
    ObjectNode d = changed(c, 3, "/d");

    n.deliverAndAwait(delta(a, b, 2.0), b);
    n.deliverAndAwait(delta(b, c, 3.0), c);
    eventually().until(() -> store.writes() == 2);
    byte[] toD = delta(c, d, 4.0);
    n.deliverAndAwait(toD, d);

    assertThat(store.state().journal()).containsExactly(toD);
    ConfigSnapshot compacted =
        new PayloadDecoder(16 << 20, 256 << 20)
            .decode(store.state().payload(), SnapshotSource.CACHE, Instant.EPOCH);
    assertThat(compacted.hash()).isEqualTo(ConfigHash.configHash(c));
    assertThat(compacted.timestamp()).isEqualTo(Instant.ofEpochSecond(3));
    assertThat(new Node(new JournalingStore(store.state())).running())
        .isEqualTo(ConfigHash.configHash(d));
  }

  @Test
  void withTheJournalOffEveryChangeIsWrittenWhole() {
    JournalingStore store = new JournalingStore();
    Node n = new Node(store, b -> b.cacheJournal(0, 0.25));
    ObjectNode a = routes(20);
    n.deliverAndAwait(HybridProtocol.reconfigure(a, 1.0), a);
    ObjectNode b = changed(a, 1, "/b");

    n.deliverAndAwait(delta(a, b, 2.0), b);

    assertThat(store.writes()).isEqualTo(2);
    assertThat(store.state().journal()).isEmpty();
  }

  @Test
  void aJournalWhoseFirstChangeDoesNotApplyToTheCacheIsIgnoredAndReplacedByTheNextWrite() {
    ObjectNode a = routes(10);
    ObjectNode other = routes(11);
    ObjectNode b = changed(a, 1, "/b");
    JournalingStore store =
        new JournalingStore(
            new JournalingStore.Durable(
                HybridProtocol.reconfigure(other, 1.0), List.of(delta(a, b, 2.0))));

    Node n = new Node(store);

    assertThat(n.running()).isEqualTo(ConfigHash.configHash(other));
    ObjectNode next = changed(other, 3, "/next");
    n.deliverAndAwait(delta(other, next, 3.0), next);
    assertThat(store.writes()).isOne(); // written whole: the foreign journal is gone
    assertThat(store.state().journal()).isEmpty();
  }

  @Test
  void aBadChangeEndsTheReplayAtTheLastGoodConfiguration() {
    ObjectNode a = routes(10);
    ObjectNode b = changed(a, 1, "/b");
    ObjectNode c = changed(b, 2, "/c");
    ObjectNode d = changed(c, 3, "/d");
    byte[] wrongHashes =
        new dev.configsync.internal.delta.DeltaFrame(
                ConfigHash.configHash(b),
                ConfigHash.configHashes(d), // announces d, but the change set makes c
                1,
                3.0,
                dev.configsync.internal.delta.ConfigDiff.diff(b, c))
            .encode();
    List<List<byte[]>> journals =
        List.of(
            List.of(delta(a, b, 2.0), "not gzip".getBytes(StandardCharsets.UTF_8), delta(b, c, 3)),
            List.of(delta(a, b, 2.0), wrongHashes, delta(c, d, 4.0)),
            List.of(delta(a, b, 2.0), delta(c, d, 4.0)),
            List.of(delta(a, b, 2.0), HybridProtocol.reconfigure(c, 3.0)));

    for (List<byte[]> journal : journals) {
      JournalingStore store =
          new JournalingStore(
              new JournalingStore.Durable(HybridProtocol.reconfigure(a, 1.0), journal));
      Node n = new Node(store);

      assertThat(n.running()).isEqualTo(ConfigHash.configHash(b));
      // What the store holds is not what runs: the next change is written whole.
      ObjectNode e = changed(b, 4, "/e");
      n.deliverAndAwait(delta(b, e, 5.0), e);
      assertThat(store.writes()).isOne();
      assertThat(store.state().journal()).isEmpty();
    }
  }

  /**
   * Random streams of whole configurations (some of them earlier ones again) and one-entity
   * changes; after each, every state the store went through is restarted from. A restart must run a
   * configuration that was published, never older than the newest one the node had applied (and so
   * acknowledged) when that state was made, and exactly that one when nothing followed it.
   */
  @Property(tries = 25)
  void aRestartFromAnyDurableStateRunsTheNewestConfigurationWhoseWriteCompleted(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 4) int maxRecords) {
    Random random = new Random(seed);
    JournalingStore store = new JournalingStore();
    // The k-th configuration applied: how many states the store had made when listeners got it.
    List<Integer> statesWhenApplied = new CopyOnWriteArrayList<>();
    Node n =
        new Node(
            store,
            b ->
                b.cacheJournal(maxRecords, 16)
                    .onSnapshot(s -> statesWhenApplied.add(store.history().size())));
    List<ObjectNode> published = new ArrayList<>();
    ObjectNode current = routes(5 + random.nextInt(5));
    n.deliverAndAwait(HybridProtocol.reconfigure(current, 1.0), current);
    published.add(current);
    int ops = 4 + random.nextInt(10);
    for (int op = 1; op <= ops; op++) {
      ObjectNode next;
      if (random.nextInt(5) == 0) {
        next = random.nextBoolean() ? published.get(random.nextInt(published.size())) : routes(3);
        if (ConfigHash.configHash(next).equals(n.running())) {
          next = changed(next, 0, "/whole-" + op);
        }
        n.deliverAndAwait(HybridProtocol.reconfigure(next, 1.0 + op), next);
      } else {
        next = changed(current, random.nextInt(current.withArray("routes").size()), "/p" + op);
        n.deliverAndAwait(delta(current, next, 1.0 + op), next);
      }
      current = next;
      published.add(current);
    }
    List<JournalingStore.Durable> history = List.copyOf(store.history());
    for (int i = 0; i < history.size(); i++) {
      Node restarted = new Node(new JournalingStore(history.get(i)));
      String hash = restarted.running();
      int acknowledged = 0; // the newest configuration applied before state i was made
      for (int k = 0; k < statesWhenApplied.size(); k++) {
        acknowledged = statesWhenApplied.get(k) <= i ? k : acknowledged;
      }
      Set<String> allowed = new HashSet<>();
      for (int p = acknowledged; p < published.size(); p++) {
        allowed.add(ConfigHash.configHash(published.get(p)));
      }
      assertThat(allowed).as("state %s of %s", i, history.size()).contains(hash);
      restarted.client.close();
    }
    assertThat(new Node(new JournalingStore(store.state())).running())
        .isEqualTo(ConfigHash.configHash(current));
  }

  private static ObjectNode changed(ObjectNode table, int route, String path) {
    ObjectNode copy = table.deepCopy();
    ((ObjectNode) copy.withArray("routes").get(route)).put("paths", path);
    return copy;
  }

  private static ConditionFactory eventually() {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(1));
  }
}
