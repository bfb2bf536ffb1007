package dev.configsync.examples.gateway;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Counts requests per (service, route, consumer, status class) in memory, without bound on time but
 * bounded by the number of distinct keys (services x routes x consumers x 5). Thread-safe; {@link
 * #record} never blocks other recorders for long (one map lookup and an atomic add).
 */
public final class InMemoryUsageRecorder implements UsageRecorder {

  /**
   * What a count is kept for. Null names stand for "no route matched" and "no consumer".
   *
   * @param service the service's name, or null
   * @param route the route's name, or null
   * @param consumer the consumer, or null
   * @param status the status class
   */
  public record Key(
      @Nullable String service,
      @Nullable String route,
      @Nullable String consumer,
      StatusClass status) {}

  private final Map<Key, LongAdder> counts = new ConcurrentHashMap<>();

  /** Creates an empty recorder. */
  public InMemoryUsageRecorder() {}

  @Override
  public void record(
      @Nullable String service,
      @Nullable String route,
      @Nullable String consumer,
      StatusClass status) {
    counts
        .computeIfAbsent(new Key(service, route, consumer, status), k -> new LongAdder())
        .increment();
  }

  /** A copy of the counts so far. */
  public Map<Key, Long> snapshot() {
    return counts.entrySet().stream()
        .collect(Collectors.toUnmodifiableMap(Map.Entry::getKey, e -> e.getValue().sum()));
  }

  /** The total of all counts so far. */
  public long total() {
    return counts.values().stream().mapToLong(LongAdder::sum).sum();
  }
}
