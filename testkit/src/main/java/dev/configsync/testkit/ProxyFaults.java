package dev.configsync.testkit;

import dev.configsync.testkit.FaultProxy.Direction;

/** The faults in force on a {@link FaultProxy}; replaced as a whole, never changed in place. */
record ProxyFaults(
    long upstreamLatencyNanos,
    long downstreamLatencyNanos,
    long upstreamBytesPerSecond,
    long downstreamBytesPerSecond,
    boolean blackhole,
    boolean refuse) {
  static final ProxyFaults NONE = new ProxyFaults(0, 0, 0, 0, false, false);

  long latencyNanos(Direction d) {
    return d == Direction.UPSTREAM ? upstreamLatencyNanos : downstreamLatencyNanos;
  }

  long bytesPerSecond(Direction d) {
    return d == Direction.UPSTREAM ? upstreamBytesPerSecond : downstreamBytesPerSecond;
  }

  /** These faults with the given latencies, each way; 0 is none. */
  ProxyFaults withLatency(long upstreamNanos, long downstreamNanos) {
    return new ProxyFaults(
        upstreamNanos,
        downstreamNanos,
        upstreamBytesPerSecond,
        downstreamBytesPerSecond,
        blackhole,
        refuse);
  }

  /** These faults with the given bandwidth limits, each way; 0 is no limit. */
  ProxyFaults withBandwidth(long upstream, long downstream) {
    return new ProxyFaults(
        upstreamLatencyNanos, downstreamLatencyNanos, upstream, downstream, blackhole, refuse);
  }

  /** These faults with a black hole switched on or off. */
  ProxyFaults withBlackhole(boolean on) {
    return new ProxyFaults(
        upstreamLatencyNanos,
        downstreamLatencyNanos,
        upstreamBytesPerSecond,
        downstreamBytesPerSecond,
        on,
        refuse);
  }

  /** These faults with new connections refused, or accepted again. */
  ProxyFaults withRefuse(boolean on) {
    return new ProxyFaults(
        upstreamLatencyNanos,
        downstreamLatencyNanos,
        upstreamBytesPerSecond,
        downstreamBytesPerSecond,
        blackhole,
        on);
  }
}
