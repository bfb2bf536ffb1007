package dev.configsync.bench;

import java.util.List;

/**
 * How much work a run does: the configuration sizes and fleet sizes each measurement uses, and how
 * many repetitions it takes the median of.
 */
// The lists are List.of(...) and cannot change.
@SuppressWarnings("ImmutableEnumChecker")
public enum Mode {
  /** A few seconds in all: proves every measurement runs; the numbers mean little. */
  SMOKE(List.of(64 * 1024), List.of(10), List.of(20), 1),
  /** Under two minutes on two cores: 1 MB and 16 MB configurations, a small fleet. */
  QUICK(List.of(1 << 20, 16 << 20), List.of(100), List.of(200), 3),
  /** The whole table: 1, 16 and 100 MB configurations; 250, 500 and 1,000 nodes; 2,000 idle. */
  FULL(List.of(1 << 20, 16 << 20, 100 << 20), List.of(250, 500, 1000), List.of(500, 1000, 2000), 5);

  private final List<Integer> configBytes;
  private final List<Integer> fleetSizes;
  private final List<Integer> idleConnections;
  private final int repetitions;

  Mode(
      List<Integer> configBytes,
      List<Integer> fleetSizes,
      List<Integer> idleConnections,
      int repetitions) {
    this.configBytes = configBytes;
    this.fleetSizes = fleetSizes;
    this.idleConnections = idleConnections;
    this.repetitions = repetitions;
  }

  /** Approximate sizes, in bytes of JSON, of the generated configurations. */
  public List<Integer> configBytes() {
    return configBytes;
  }

  /** Numbers of connected nodes for the fan-out and reconnect-storm measurements. */
  public List<Integer> fleetSizes() {
    return fleetSizes;
  }

  /** Numbers of idle connections for the heap-per-connection measurement. */
  public List<Integer> idleConnections() {
    return idleConnections;
  }

  /** How many timed repetitions each figure is the median of (after one warm-up). */
  public int repetitions() {
    return repetitions;
  }
}
