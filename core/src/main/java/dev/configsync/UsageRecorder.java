package dev.configsync;

import dev.configsync.internal.usage.UsageCounters;
import org.jspecify.annotations.Nullable;

/**
 * Counts the requests an embedding gateway serves, for usage telemetry: {@code
 * client.usage().record(service, route, consumer, status)} once per request. Counts are aggregated
 * in memory per (service, route, consumer) and status class, and sent to the control plane in
 * batches (see {@code docs/telemetry.md}).
 *
 * <p><b>What can be recorded.</b> Only three names and a status code: there is no parameter through
 * which request or response content, a header, an address or a body could travel, so usage
 * telemetry cannot leak them. Pass the names of configuration entities (the service's and route's
 * names or ids, the consumer's username or id), not values taken from the request such as a path. A
 * name longer than {@value #MAX_NAME_LENGTH} characters, a missing service or route, a status
 * outside 100 to 599, or a key that would exceed the client's key limit ({@code usageMaxKeys}) is
 * refused: not counted, and added to {@link UsageStatus#refusedRecords()}.
 *
 * <p><b>Cost.</b> A call on names seen before is three hash-map lookups and two atomic operations,
 * and allocates nothing; the first call for a new key allocates its counters. It never blocks,
 * never does I/O and never throws.
 *
 * <p><b>Threading.</b> Thread-safe; meant to be called from every request thread at once. A count
 * is never lost or counted twice between windows: the flusher takes each counter with an atomic
 * get-and-reset.
 */
public final class UsageRecorder {
  /** The longest service, route or consumer name accepted, in characters. */
  public static final int MAX_NAME_LENGTH = 256;

  private final UsageCounters counters;

  UsageRecorder(UsageCounters counters) {
    this.counters = counters;
  }

  /**
   * Counts one request.
   *
   * @param service the name of the service that served it
   * @param route the name of the route that matched
   * @param consumer the name of the authenticated consumer, or null (or empty) for anonymous
   * @param status the HTTP status of the response, 100 to 599
   * @return true when counted, false when refused (see the class description)
   */
  public boolean record(
      @Nullable String service, @Nullable String route, @Nullable String consumer, int status) {
    return counters.record(service, route, consumer, status);
  }
}
