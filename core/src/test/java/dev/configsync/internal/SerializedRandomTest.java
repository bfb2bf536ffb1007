package dev.configsync.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class SerializedRandomTest {

  @Test
  void yieldsWhatTheWrappedGeneratorYields() {
    Random plain = new Random(5);
    RandomGenerator wrapped = SerializedRandom.of(new Random(5));
    for (int i = 0; i < 100; i++) {
      assertThat(wrapped.nextInt(7)).isEqualTo(plain.nextInt(7));
      assertThat(wrapped.nextLong(100, 200)).isEqualTo(plain.nextLong(100, 200));
      assertThat(wrapped.nextDouble()).isEqualTo(plain.nextDouble());
    }
    assertThat(SerializedRandom.of(wrapped)).isSameAs(wrapped);
  }

  @Test
  void neverLetsTwoThreadsIntoTheWrappedGeneratorAtOnce() throws Exception {
    OverlapDetector detector = new OverlapDetector();
    RandomGenerator shared = SerializedRandom.of(detector);
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      CountDownLatch start = new CountDownLatch(1);
      Future<?> a = threads.submit(() -> draw(shared, start));
      Future<?> b = threads.submit(() -> draw(shared, start));
      start.countDown();
      a.get(30, TimeUnit.SECONDS);
      b.get(30, TimeUnit.SECONDS);
    } finally {
      threads.shutdownNow();
    }
    assertThat(detector.calls.get()).isEqualTo(40_000);
    assertThat(detector.overlaps.get()).isZero();
  }

  @Test
  void theDetectorSeesOverlapsWithoutTheWrapper() throws Exception {
    // Proves the test above can fail: unwrapped, two threads drawing at once do overlap.
    OverlapDetector detector = new OverlapDetector();
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      for (int t = 0; t < 2; t++) {
        threads.execute(
            () -> {
              while (!stop.get()) {
                detector.nextInt(10);
              }
            });
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> detector.overlaps.get() > 0);
    } finally {
      stop.set(true);
      threads.shutdownNow();
    }
  }

  private static Void draw(RandomGenerator random, CountDownLatch start) throws Exception {
    start.await();
    for (int i = 0; i < 20_000; i++) {
      random.nextInt(10);
    }
    return null;
  }

  /** A generator that counts calls made while another call is still inside it. */
  private static final class OverlapDetector implements RandomGenerator {
    final AtomicInteger inside = new AtomicInteger();
    final AtomicInteger overlaps = new AtomicInteger();
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public long nextLong() {
      return 0;
    }

    @Override
    public int nextInt(int bound) {
      calls.incrementAndGet();
      if (inside.incrementAndGet() > 1) {
        overlaps.incrementAndGet();
      }
      // Stay inside a little while, so that overlaps are likely when nothing prevents them.
      for (int i = 0; i < 200; i++) {
        Thread.onSpinWait();
      }
      inside.decrementAndGet();
      return 0;
    }
  }
}
