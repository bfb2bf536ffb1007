package dev.configsync.internal.usage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.UsageCount;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Aggregation never loses or duplicates a count, whatever the interleaving of recording threads and
 * a flusher that drains (and evicts idle keys) at the same time.
 */
class UsageAggregationPropertyTest {
  private static final int ROUNDS = 500;

  @Property(tries = 40)
  void concurrentRecordsAndDrainsAddUpExactly(
      @ForAll @Size(min = 1, max = 400) List<@IntRange(min = 0, max = 59) Integer> ops,
      @ForAll @IntRange(min = 1, max = 4) int threads,
      @ForAll @IntRange(min = 1, max = 3) int evictAfterIdle)
      throws InterruptedException {
    // Few keys (3 services x 2 consumers) so that keys are evicted and re-created while in use.
    UsageCounters recorder = new UsageCounters(true, 1000, 1000, () -> {}, () -> {});
    Map<String, Long> expected = new HashMap<>();
    for (int op : ops) {
      expected.merge(
          key(service(op), consumer(op), status(op) / 100), (long) threads * ROUNDS, Long::sum);
    }
    Map<String, Long> drained = new HashMap<>();
    AtomicBoolean recording = new AtomicBoolean(true);
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> workers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread w =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  return;
                }
                for (int round = 0; round < ROUNDS; round++) {
                  for (int op : ops) {
                    assertThat(recorder.record(service(op), "r", consumer(op), status(op)))
                        .isTrue();
                  }
                }
              });
      w.start();
      workers.add(w);
    }
    Thread flusher =
        new Thread(
            () -> {
              while (recording.get()) {
                add(drained, recorder.drain(evictAfterIdle));
              }
            });
    flusher.start();
    go.countDown();
    for (Thread w : workers) {
      w.join();
    }
    recording.set(false);
    flusher.join();
    add(drained, recorder.drain(evictAfterIdle));

    assertThat(drained).isEqualTo(expected);
  }

  private static void add(Map<String, Long> into, List<UsageCount> counts) {
    for (UsageCount c : counts) {
      for (int k = 1; k <= 5; k++) {
        if (c.byClass(k) != 0) {
          into.merge(key(c.service(), c.consumer(), k), c.byClass(k), Long::sum);
        }
      }
    }
  }

  private static String key(String service, String consumer, int statusClass) {
    return service + "/" + Objects.requireNonNullElse(consumer, "-") + "/" + statusClass;
  }

  private static String service(int op) {
    return "s" + (op % 3);
  }

  private static String consumer(int op) {
    return (op / 3) % 2 == 0 ? null : "c";
  }

  private static int status(int op) {
    return 100 * (1 + (op / 6) % 5) + op % 7;
  }
}
