package dev.configsync.testkit;

import dev.configsync.testkit.FaultProxy.Direction;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** What one {@link FaultProxy} has done since start, as its counters report it. Thread-safe. */
final class ProxyCounters {
  private final AtomicInteger accepted = new AtomicInteger();
  private final AtomicInteger refused = new AtomicInteger();
  private final AtomicInteger cuts = new AtomicInteger();
  private final AtomicLong upstreamBytes = new AtomicLong();
  private final AtomicLong downstreamBytes = new AtomicLong();
  private final AtomicLong swallowedBytes = new AtomicLong();
  private final AtomicLong lastUpstreamNanos = new AtomicLong();
  private final AtomicLong lastDownstreamNanos = new AtomicLong();
  private volatile boolean anyUpstream;
  private volatile boolean anyDownstream;

  void countAccepted() {
    accepted.incrementAndGet();
  }

  void countRefused() {
    refused.incrementAndGet();
  }

  void countCut() {
    cuts.incrementAndGet();
  }

  /** {@code n} bytes are about to be passed on going {@code direction}, now. */
  void countForwarded(Direction direction, int n) {
    long now = System.nanoTime();
    if (direction == Direction.UPSTREAM) {
      upstreamBytes.addAndGet(n);
      lastUpstreamNanos.set(now);
      anyUpstream = true;
    } else {
      downstreamBytes.addAndGet(n);
      lastDownstreamNanos.set(now);
      anyDownstream = true;
    }
  }

  void countSwallowed(long n) {
    swallowedBytes.addAndGet(n);
  }

  int accepted() {
    return accepted.get();
  }

  int refused() {
    return refused.get();
  }

  int cuts() {
    return cuts.get();
  }

  long forwarded(Direction direction) {
    return direction == Direction.UPSTREAM ? upstreamBytes.get() : downstreamBytes.get();
  }

  long swallowed() {
    return swallowedBytes.get();
  }

  OptionalLong lastForwardedNanos(Direction direction) {
    boolean up = direction == Direction.UPSTREAM;
    if (!(up ? anyUpstream : anyDownstream)) {
      return OptionalLong.empty();
    }
    return OptionalLong.of(up ? lastUpstreamNanos.get() : lastDownstreamNanos.get());
  }
}
