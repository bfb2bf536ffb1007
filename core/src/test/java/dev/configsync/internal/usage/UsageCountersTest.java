package dev.configsync.internal.usage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.UsageCount;
import dev.configsync.UsageRecorder;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Counting in memory: what is counted, what is refused, and what it costs on the hot path. */
class UsageCountersTest {
  private final AtomicInteger firstRecord = new AtomicInteger();
  private final AtomicInteger full = new AtomicInteger();

  private UsageCounters recorder(int maxKeys, int fullAt) {
    return new UsageCounters(
        true, maxKeys, fullAt, firstRecord::incrementAndGet, full::incrementAndGet);
  }

  @Test
  void countsByServiceRouteConsumerAndStatusClass() {
    UsageCounters r = recorder(100, 100);
    assertThat(r.record("orders", "get-order", "alice", 200)).isTrue();
    assertThat(r.record("orders", "get-order", "alice", 204)).isTrue();
    assertThat(r.record("orders", "get-order", "alice", 503)).isTrue();
    assertThat(r.record("orders", "get-order", null, 404)).isTrue();
    assertThat(r.record("orders", "get-order", "", 101)).isTrue(); // empty is anonymous too
    assertThat(r.record("users", "me", "bob", 302)).isTrue();

    List<UsageCount> counts = r.drain(2);

    assertThat(counts)
        .containsExactlyInAnyOrder(
            new UsageCount("orders", "get-order", "alice", 0, 2, 0, 0, 1),
            new UsageCount("orders", "get-order", null, 1, 0, 0, 1, 0),
            new UsageCount("users", "me", "bob", 0, 0, 1, 0, 0));
    assertThat(r.drain(2)).isEmpty(); // every count is taken exactly once
    assertThat(firstRecord).hasValue(1);
  }

  @Test
  void refusesWhatIsNotANameAndAStatusAndCountsTheRefusals() {
    UsageCounters r = recorder(100, 100);
    String tooLong = "x".repeat(UsageRecorder.MAX_NAME_LENGTH + 1);
    assertThat(r.record(null, "r", null, 200)).isFalse();
    assertThat(r.record("s", null, null, 200)).isFalse();
    assertThat(r.record("", "r", null, 200)).isFalse();
    assertThat(r.record("s", "", null, 200)).isFalse();
    assertThat(r.record(tooLong, "r", null, 200)).isFalse();
    assertThat(r.record("s", tooLong, null, 200)).isFalse();
    assertThat(r.record("s", "r", tooLong, 200)).isFalse();
    assertThat(r.record("s", "r", null, 99)).isFalse();
    assertThat(r.record("s", "r", null, 600)).isFalse();
    assertThat(r.record("s", "x".repeat(UsageRecorder.MAX_NAME_LENGTH), null, 599)).isTrue();

    assertThat(r.refused()).isEqualTo(9);
    assertThat(r.drain(2)).hasSize(1);
  }

  @Test
  void refusesNewKeysOverTheLimitButKeepsCountingKnownOnes() {
    UsageCounters r = recorder(2, 100);
    assertThat(r.record("s", "r", "a", 200)).isTrue();
    assertThat(r.record("s", "r", "b", 200)).isTrue();
    assertThat(r.record("s", "r", "c", 200)).isFalse();
    assertThat(r.record("other", "r", null, 200)).isFalse();
    assertThat(r.record("s", "r", "a", 200)).isTrue();
    assertThat(r.refused()).isEqualTo(2);
    assertThat(r.keys()).isEqualTo(2);
  }

  @Test
  void asksForAFlushWhenABatchWorthOfKeysIsCounted() {
    UsageCounters r = recorder(100, 3);
    r.record("s", "r", "a", 200);
    r.record("s", "r", "b", 200);
    assertThat(full).hasValue(0);
    r.record("s", "r", "c", 200);
    assertThat(full).hasValue(1);
  }

  @Test
  void dropsKeysIdleForSeveralDrainsAndCountsThemAgainWhenTheyReturn() {
    UsageCounters r = recorder(2, 100);
    r.record("s", "r", "a", 200);
    r.record("s", "r", "b", 200);
    assertThat(r.drain(2)).hasSize(2);
    r.record("s", "r", "a", 200);
    assertThat(r.drain(2)).hasSize(1); // b idle once
    assertThat(r.drain(2)).isEmpty(); // b idle twice: dropped; a idle once
    assertThat(r.keys()).isEqualTo(1);

    assertThat(r.record("s", "r", "c", 500)).isTrue(); // b's place is free again
    assertThat(r.drain(2)).containsExactly(new UsageCount("s", "r", "c", 0, 0, 0, 0, 1));
  }

  @Test
  void recordingOnKnownKeysAllocatesNothing() {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    UsageCounters r = recorder(1000, 1000);
    String[] services = {"orders", "users", "payments"};
    String[] routes = {"get", "list", "create"};
    String[] consumers = {"alice", "bob", null};
    int[] statuses = {200, 201, 304, 404, 503};
    // Warm up: creates the keys, and lets the JIT compile record() as it would run in a gateway.
    for (int i = 0; i < 200_000; i++) {
      r.record(services[i % 3], routes[(i / 3) % 3], consumers[(i / 9) % 3], statuses[i % 5]);
    }
    int calls = 1_000_000;
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < calls; i++) {
      r.record(services[i % 3], routes[(i / 3) % 3], consumers[(i / 9) % 3], statuses[i % 5]);
    }
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;

    // A single 16-byte object per call would be 16 MB; allow a few hundred bytes of noise.
    assertThat(allocated).as("bytes allocated by %d record calls", calls).isLessThan(1024);
    long total = r.drain(2).stream().mapToLong(UsageCount::total).sum();
    assertThat(total).isEqualTo(200_000L + calls);
  }
}
