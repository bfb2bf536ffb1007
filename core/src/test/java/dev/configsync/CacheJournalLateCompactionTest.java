package dev.configsync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.delta.ChangeSet;
import dev.configsync.internal.delta.IndexedConfig;
import dev.configsync.spi.SnapshotStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A compaction that comes too late (a change was appended while the whole payload was encoded) is
 * not written, and the next one starts only once the journal holds twice the limit: changes that
 * come faster than a whole payload is encoded do not start an encoding each.
 */
class CacheJournalLateCompactionTest {
  private static final int MAX_RECORDS = 4;

  @Test
  void aLateCompactionPushesTheNextOneFurther() throws Exception {
    CountingStore store = new CountingStore();
    ManualExecutor writer = new ManualExecutor();
    CacheJournal journal = new CacheJournal(store, writer, MAX_RECORDS, 16);
    Chain chain = new Chain();
    journal.started(chain.hash(), 100, 0, 0);
    try {
      for (int i = 1; i < MAX_RECORDS; i++) {
        assertThat(journal.persist(chain.next()).journaled()).isTrue();
      }
      ConfigSnapshot due = chain.next();
      assertThat(journal.persist(due).journaled()).isTrue(); // 4 records: a compaction starts
      await().until(() -> writer.tasks.size() == 1); // its encoding is done; its write waits
      assertThat(journal.persist(chain.next()).journaled()).isTrue(); // a newer change meanwhile
      writer.runAll(); // the compaction finds the newer change: too late, not written

      // Up to 2 x 4 records, no compaction starts; at 8, one does, and with nothing newer it wins.
      for (int records = 6; records < 2 * MAX_RECORDS; records++) {
        assertThat(journal.persist(chain.next()).journaled()).isTrue();
      }
      assertThat(writer.tasks).isEmpty();
      assertThat(journal.persist(chain.next()).journaled()).isTrue();
      await().until(() -> writer.tasks.size() == 1);
      writer.runAll();

      assertThat(store.wholeWrites.get()).isEqualTo(1);
      assertThat(store.appends.get()).isEqualTo(2 * MAX_RECORDS);
    } finally {
      journal.stop();
    }
  }

  /** Configurations one change apart, each as a node makes it from a change set. */
  private static final class Chain {
    private IndexedConfig current;
    private int version;

    Chain() {
      ObjectNode table = JsonNodeFactory.instance.objectNode();
      table.putArray("routes").addObject().put("id", "r").put("v", 0);
      current = IndexedConfig.of(table);
    }

    String hash() {
      return current.hashes().config();
    }

    ConfigSnapshot next() {
      String base = hash();
      ObjectNode route = JsonNodeFactory.instance.objectNode().put("id", "r").put("v", ++version);
      IndexedConfig.Applied applied =
          current.apply(
              new ChangeSet(
                  Map.of("routes", ChangeSet.CollectionDelta.upserting("id", List.of(route))),
                  Map.of(),
                  Set.of()));
      current = applied.config();
      byte[] whole = ("whole " + version).getBytes(java.nio.charset.StandardCharsets.UTF_8);
      return ConfigSnapshot.fromDelta(
          applied, SnapshotSource.CONTROL_PLANE, Instant.EPOCH, () -> whole, base, new byte[10]);
    }
  }

  /** Runs its tasks only when told, on the calling thread. */
  private static final class ManualExecutor extends AbstractExecutorService {
    final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();

    void runAll() {
      Runnable task;
      while ((task = tasks.poll()) != null) {
        task.run();
      }
    }

    @Override
    public void execute(Runnable command) {
      tasks.add(command);
    }

    @Override
    public void shutdown() {}

    @Override
    public List<Runnable> shutdownNow() {
      return new ArrayList<>();
    }

    @Override
    public boolean isShutdown() {
      return false;
    }

    @Override
    public boolean isTerminated() {
      return false;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
      return true;
    }
  }

  private static final class CountingStore implements SnapshotStore {
    final java.util.concurrent.atomic.AtomicInteger appends =
        new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger wholeWrites =
        new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public Optional<byte[]> read() {
      return Optional.empty();
    }

    @Override
    public void write(byte[] payload) {
      wholeWrites.incrementAndGet();
    }

    @Override
    public boolean append(byte[] change) {
      appends.incrementAndGet();
      return true;
    }

    @Override
    public String moveAside(String reason) {
      return "nowhere";
    }

    @Override
    public UUID nodeId() {
      return new UUID(0, 1);
    }

    @Override
    public String describe() {
      return "counting store";
    }
  }
}
