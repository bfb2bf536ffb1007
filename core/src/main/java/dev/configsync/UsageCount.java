package dev.configsync;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Requests counted for one (service, route, consumer), by HTTP status class. Immutable.
 *
 * <p>Only names and counts: usage telemetry never carries request or response content, headers,
 * addresses or bodies (see {@link UsageRecorder}).
 *
 * @param service the service name the gateway gave
 * @param route the route name the gateway gave
 * @param consumer the consumer name, or null for anonymous requests
 * @param status1xx requests answered 100 to 199
 * @param status2xx requests answered 200 to 299
 * @param status3xx requests answered 300 to 399
 * @param status4xx requests answered 400 to 499
 * @param status5xx requests answered 500 to 599
 */
public record UsageCount(
    String service,
    String route,
    @Nullable String consumer,
    long status1xx,
    long status2xx,
    long status3xx,
    long status4xx,
    long status5xx) {

  /** Checks that no count is negative. */
  public UsageCount {
    Objects.requireNonNull(service, "service");
    Objects.requireNonNull(route, "route");
    if (status1xx < 0 || status2xx < 0 || status3xx < 0 || status4xx < 0 || status5xx < 0) {
      throw new IllegalArgumentException("usage counts must not be negative");
    }
  }

  /** All requests counted, whatever their status. */
  public long total() {
    return status1xx + status2xx + status3xx + status4xx + status5xx;
  }

  /**
   * The count of status class {@code statusClass} (1 to 5, as in {@code 2xx}).
   *
   * @throws IllegalArgumentException for another class
   */
  public long byClass(int statusClass) {
    return switch (statusClass) {
      case 1 -> status1xx;
      case 2 -> status2xx;
      case 3 -> status3xx;
      case 4 -> status4xx;
      case 5 -> status5xx;
      default ->
          throw new IllegalArgumentException("status class must be 1 to 5, got: " + statusClass);
    };
  }

  /** This count plus {@code other}'s (same key assumed; the key of this one is kept). */
  public UsageCount plus(UsageCount other) {
    return new UsageCount(
        service,
        route,
        consumer,
        Math.addExact(status1xx, other.status1xx),
        Math.addExact(status2xx, other.status2xx),
        Math.addExact(status3xx, other.status3xx),
        Math.addExact(status4xx, other.status4xx),
        Math.addExact(status5xx, other.status5xx));
  }
}
