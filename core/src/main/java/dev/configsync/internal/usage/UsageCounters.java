package dev.configsync.internal.usage;

import dev.configsync.UsageCount;
import dev.configsync.UsageRecorder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * The counting behind {@link UsageRecorder}: per (service, route, consumer) and status class, in
 * memory, lock-free. {@code record} is called from every request thread at once; {@code drain} from
 * the usage reporter's context, one call at a time. Not API.
 */
public final class UsageCounters {
  private static final int MAX_NAME_LENGTH = UsageRecorder.MAX_NAME_LENGTH;

  /** The status classes counted: 1xx to 5xx. */
  public static final int CLASSES = 5;

  // Cell layout: counts of classes 1xx..5xx, then the retired flag, then idle flushes (flusher's).
  private static final int RETIRED = 5;
  private static final int IDLE = 6;
  private static final int CELL_LENGTH = 7;

  private final ConcurrentHashMap<
          String, ConcurrentHashMap<String, ConcurrentHashMap<String, AtomicLongArray>>>
      services = new ConcurrentHashMap<>();
  private final boolean enabled;
  private final int maxKeys;
  private final int fullAt;
  private final AtomicInteger keys = new AtomicInteger();
  private final LongAdder refused = new LongAdder();
  private final AtomicBoolean armed = new AtomicBoolean();
  private final Runnable onFirstRecord;
  private final Runnable onFull;

  /**
   * @param enabled false: every call is refused (reporting is off)
   * @param maxKeys the most (service, route, consumer) keys counted at once
   * @param fullAt how many keys make a batch full, so that a flush is asked for at once
   * @param onFirstRecord called once, on the first counted request (starts the flush timer)
   * @param onFull called when a new key brings the key count to {@code fullAt} or more
   */
  public UsageCounters(
      boolean enabled, int maxKeys, int fullAt, Runnable onFirstRecord, Runnable onFull) {
    this.enabled = enabled;
    this.maxKeys = maxKeys;
    this.fullAt = fullAt;
    this.onFirstRecord = onFirstRecord;
    this.onFull = onFull;
  }

  /**
   * Counts one request.
   *
   * @param service the name of the service that served it
   * @param route the name of the route that matched
   * @param consumer the name of the authenticated consumer, or null (or empty) for anonymous
   * @param status the HTTP status of the response, 100 to 599
   * @return true when counted, false when refused (see {@link UsageRecorder})
   */
  public boolean record(
      @Nullable String service, @Nullable String route, @Nullable String consumer, int status) {
    if (!enabled
        || status < 100
        || status > 599
        || service == null
        || route == null
        || service.isEmpty()
        || route.isEmpty()
        || service.length() > MAX_NAME_LENGTH
        || route.length() > MAX_NAME_LENGTH
        || (consumer != null && consumer.length() > MAX_NAME_LENGTH)) {
      refused.increment();
      return false;
    }
    int index = status / 100 - 1;
    String who = consumer == null ? "" : consumer;
    while (true) {
      AtomicLongArray cell = existing(service, route, who);
      boolean created = false;
      if (cell == null) {
        cell = newCell(service, route, who);
        if (cell == null) {
          refused.increment();
          return false;
        }
        created = true;
      }
      cell.incrementAndGet(index);
      if (cell.get(RETIRED) == 0) {
        if (!armed.get() && armed.compareAndSet(false, true)) {
          onFirstRecord.run();
        }
        if (created && keys.get() >= fullAt) {
          onFull.run(); // after the increment, so that the flush takes this request too
        }
        return true;
      }
      // The flusher retired this idle cell (removed it from the map, then took what it held) while
      // this call was using it. Take the increment back and count it in a new cell; if the flusher
      // already took it, it is counted, and taking back would count it twice.
      if (!takeBack(cell, index)) {
        return true;
      }
    }
  }

  private static boolean takeBack(AtomicLongArray cell, int index) {
    while (true) {
      long v = cell.get(index);
      if (v == 0) {
        return false;
      }
      if (cell.compareAndSet(index, v, v - 1)) {
        return true;
      }
    }
  }

  private @Nullable AtomicLongArray existing(String service, String route, String consumer) {
    ConcurrentHashMap<String, ConcurrentHashMap<String, AtomicLongArray>> routes =
        services.get(service);
    if (routes != null) {
      ConcurrentHashMap<String, AtomicLongArray> consumers = routes.get(route);
      if (consumers != null) {
        return consumers.get(consumer);
      }
    }
    return null;
  }

  /** The slow path: the first request of a key. Allocates. */
  private @Nullable AtomicLongArray newCell(String service, String route, String consumer) {
    if (keys.get() >= maxKeys) {
      return null; // do not even create maps for names over the limit
    }
    ConcurrentHashMap<String, AtomicLongArray> consumers =
        services
            .computeIfAbsent(service, k -> new ConcurrentHashMap<>())
            .computeIfAbsent(route, k -> new ConcurrentHashMap<>());
    AtomicLongArray existing = consumers.get(consumer);
    if (existing != null) {
      return existing;
    }
    int count = keys.incrementAndGet();
    if (count > maxKeys) {
      keys.decrementAndGet();
      return null;
    }
    AtomicLongArray fresh = new AtomicLongArray(CELL_LENGTH);
    AtomicLongArray raced = consumers.putIfAbsent(consumer, fresh);
    if (raced != null) {
      keys.decrementAndGet();
      return raced;
    }
    return fresh;
  }

  /** Calls refused since start. */
  public long refused() {
    return refused.sum();
  }

  /** Keys counted in memory now. */
  public int keys() {
    return keys.get();
  }

  /**
   * Takes every count made since the last drain, atomically per counter. Keys with no request for
   * {@code evictAfterIdle} drains in a row are dropped (their service and route maps stay), so that
   * consumers that come and go do not fill the key limit. Called by one thread at a time.
   */
  public List<UsageCount> drain(int evictAfterIdle) {
    List<UsageCount> out = new ArrayList<>();
    long[] counts = new long[CLASSES];
    for (Map.Entry<String, ConcurrentHashMap<String, ConcurrentHashMap<String, AtomicLongArray>>>
        s : services.entrySet()) {
      for (Map.Entry<String, ConcurrentHashMap<String, AtomicLongArray>> r :
          s.getValue().entrySet()) {
        ConcurrentHashMap<String, AtomicLongArray> consumers = r.getValue();
        for (Map.Entry<String, AtomicLongArray> c : consumers.entrySet()) {
          AtomicLongArray cell = c.getValue();
          boolean any = take(cell, counts, false);
          if (any) {
            cell.set(IDLE, 0);
          } else if (cell.incrementAndGet(IDLE) >= evictAfterIdle) {
            // Retire first, then remove, then take what arrived meanwhile: a recorder that
            // increments after this last take sees the flag and takes its increment back.
            cell.set(RETIRED, 1);
            consumers.remove(c.getKey(), cell);
            keys.decrementAndGet();
            any = take(cell, counts, false);
          }
          if (any) {
            String consumer = c.getKey().isEmpty() ? null : c.getKey();
            out.add(
                new UsageCount(
                    s.getKey(),
                    r.getKey(),
                    consumer,
                    counts[0],
                    counts[1],
                    counts[2],
                    counts[3],
                    counts[4]));
          }
        }
      }
    }
    return out;
  }

  private static boolean take(AtomicLongArray cell, long[] into, boolean any) {
    for (int i = 0; i < CLASSES; i++) {
      into[i] = cell.getAndSet(i, 0);
      any |= into[i] != 0;
    }
    return any;
  }
}
