package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.UsageCount;
import dev.configsync.UsageRecorder;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every {@code /v1/ingest} connection shares: decoding, deduplication, aggregation and the
 * embedder's callback. Batches are processed one at a time, in arrival order, on one thread ({@code
 * configsync-cp-usage}), never on an event loop: the callback may be slow. A batch is acknowledged
 * only once it is counted (and handed to the callback), so a batch whose acknowledgement a node
 * never saw is sent again and recognised as a duplicate by {@code (node_id, stream, seq)}.
 */
final class UsageIngest {
  private static final Logger log = LoggerFactory.getLogger(UsageIngest.class);

  /** The most (node, service, route, consumer) rows kept; billing figures are never capped. */
  static final int MAX_ROWS = 100_000;

  /** Streams remembered per node for deduplication (a node draws a new stream at each start). */
  static final int STREAMS_PER_NODE = 16;

  /** The largest inflated batch read. */
  static final long MAX_INFLATED = 16L << 20;

  private record DayKey(String node, LocalDate day) {}

  private static final class Day {
    long apiCalls;
    int services;
  }

  private final NodeRegistry registry;
  private final Outlet outlet;
  private final Consumer<UsageBatch> callback;
  private final ExecutorService worker;
  final java.util.Set<IngestSession> sessions = java.util.concurrent.ConcurrentHashMap.newKeySet();

  // Guarded by this.
  private final Map<String, LinkedHashMap<String, Long>> seen = new HashMap<>();
  private final Map<UsageReport.RowKey, long[]> rows = new HashMap<>();
  private final Map<DayKey, Day> days = new HashMap<>();
  private long accepted;
  private long duplicates;
  private long refused;
  private long overLimit;
  private @Nullable UsageReport report; // the last report, until something changes

  UsageIngest(NodeRegistry registry, Outlet outlet, Consumer<UsageBatch> callback) {
    this.registry = registry;
    this.outlet = outlet;
    this.callback = callback;
    this.worker =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "configsync-cp-usage");
              t.setDaemon(true);
              return t;
            });
  }

  /** Queues a received frame; the session hears back through {@code ack} or {@code refuse}. */
  void submit(IngestSession session, byte[] frame) {
    try {
      worker.execute(() -> process(session, frame));
    } catch (RejectedExecutionException e) {
      session.refuseFromAnyThread(1001, "the control plane is shutting down");
    }
  }

  private void process(IngestSession session, byte[] frame) {
    if (session.refused()) {
      return; // a batch after a refused one is never counted: the node sends both again
    }
    UsageBatch batch;
    try {
      batch = decode(frame, session.nodeId());
    } catch (IOException | RuntimeException e) {
      synchronized (this) {
        refused++;
        report = null;
      }
      session.refuseFromAnyThread(
          1002, "protocol violation: bad usage batch: " + LogSafe.text(e.getMessage(), 200));
      return;
    }
    boolean duplicate;
    synchronized (this) {
      Long highest = seen.getOrDefault(batch.nodeId(), new LinkedHashMap<>()).get(batch.stream());
      duplicate = highest != null && batch.seq() <= highest;
      if (duplicate) {
        duplicates++;
        report = null;
      }
    }
    if (duplicate) {
      log.debug(
          "Data plane {} sent usage batch {}/{} again; not counted twice",
          batch.nodeId(),
          batch.stream(),
          batch.seq());
    } else {
      try {
        callback.accept(batch);
      } catch (RuntimeException e) {
        log.warn(
            "The usage callback failed on batch {}/{} of data plane {}; not acknowledged (the node"
                + " sends it again after reconnecting): {}",
            LogSafe.text(batch.stream(), 64), // node-supplied
            batch.seq(),
            batch.nodeId(),
            e.toString());
        session.refuseFromAnyThread(1011, "usage batch could not be processed");
        return;
      }
      int services = servicesOf(batch.nodeId());
      synchronized (this) {
        remember(batch);
        aggregate(batch, services);
        accepted++;
        report = null;
      }
    }
    session.ackFromAnyThread(batch.stream(), batch.seq());
  }

  private void remember(UsageBatch batch) {
    LinkedHashMap<String, Long> streams =
        seen.computeIfAbsent(
            batch.nodeId(),
            k ->
                new LinkedHashMap<>(4, 0.75f, true) {
                  private static final long serialVersionUID = 1L;

                  @Override
                  protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
                    return size() > STREAMS_PER_NODE;
                  }
                });
    streams.merge(batch.stream(), batch.seq(), Math::max);
  }

  private void aggregate(UsageBatch batch, int services) {
    LocalDate day = batch.windowStart().atOffset(ZoneOffset.UTC).toLocalDate();
    Day d = days.computeIfAbsent(new DayKey(batch.nodeId(), day), k -> new Day());
    d.services = Math.max(d.services, services);
    for (UsageCount c : batch.counts()) {
      d.apiCalls += c.total();
      UsageReport.RowKey key =
          new UsageReport.RowKey(
              batch.nodeId(), c.service(), c.route(), c.consumer() == null ? "" : c.consumer());
      long[] row = rows.get(key);
      if (row == null) {
        if (rows.size() >= MAX_ROWS) {
          overLimit += c.total();
          continue;
        }
        row = new long[5];
        rows.put(key, row);
      }
      for (int k = 0; k < 5; k++) {
        row[k] += c.byClass(k + 1);
      }
    }
  }

  /** Services in the configuration the node reports running, if it is the current one. */
  private int servicesOf(String nodeId) {
    Published latest = outlet.latest();
    if (latest == null) {
      return 0;
    }
    boolean runsLatest =
        registry.get(nodeId).map(i -> i.configHash().equals(latest.hash())).orElse(false);
    JsonNode services = latest.config().path("services");
    return runsLatest && services.isArray() ? services.size() : 0;
  }

  /**
   * What was counted so far; the same object until a batch is processed, so that it is cheap to
   * call often and a change shows by identity (see {@link FleetDirectory#shareUsage}).
   */
  synchronized UsageReport report() {
    UsageReport last = report;
    if (last != null) {
      return last;
    }
    List<UsageReport.Row> rowList = UsageReport.sortedRows(rows);
    List<UsageReport.Billing> billing = new ArrayList<>(days.size());
    days.forEach(
        (k, v) -> billing.add(new UsageReport.Billing(k.node(), k.day(), v.apiCalls, v.services)));
    billing.sort(UsageReport.BILLING_ORDER);
    last = new UsageReport(rowList, billing, accepted, duplicates, refused, overLimit);
    report = last;
    return last;
  }

  /**
   * Stops: batches already queued are counted and their acknowledgements queued (within {@code
   * wait}), so that a node is not sent to a restarted control plane with a batch this one counted;
   * then every connection is closed. Batches arriving meanwhile are refused, not counted.
   *
   * @return the connections sent a close frame: each ends when its node answers, or after a bound
   */
  List<IngestSession> close(java.time.Duration wait) {
    worker.shutdown();
    try {
      if (!worker.awaitTermination(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
        log.warn("Usage batches still being processed after {}; abandoning them", wait);
        worker.shutdownNow();
      }
    } catch (InterruptedException e) {
      worker.shutdownNow();
      Thread.currentThread().interrupt();
    }
    List<IngestSession> open = new ArrayList<>(sessions);
    for (IngestSession session : open) {
      session.closeFromAnyThread("the control plane is shutting down");
    }
    return open;
  }

  // ---- decoding -------------------------------------------------------------------------------

  static UsageBatch decode(byte[] frame, String connectionNodeId) throws IOException {
    JsonNode m;
    try (InputStream in = Gzip.inflating(frame, MAX_INFLATED)) {
      m = Json.readFrozen(in);
      Gzip.drain(in);
    }
    if (!HybridProtocol.TYPE_USAGE.equals(m.path("type").asText(""))) {
      throw new IllegalArgumentException("type is not \"usage\"");
    }
    String node = m.path("node_id").asText("");
    if (!node.equalsIgnoreCase(connectionNodeId)) {
      throw new IllegalArgumentException("node_id differs from the connection's");
    }
    JsonNode stream = m.path("stream");
    if (!stream.isTextual() || stream.asText().isEmpty() || stream.asText().length() > 64) {
      throw new IllegalArgumentException("stream must be a string of 1 to 64 characters");
    }
    long seq = natural(m, "seq");
    if (seq < 1) {
      throw new IllegalArgumentException("seq must be at least 1");
    }
    Instant start = Instant.ofEpochMilli(natural(m, "window_start"));
    Instant end = Instant.ofEpochMilli(natural(m, "window_end"));
    JsonNode counts = m.path("counts");
    if (!counts.isArray()) {
      throw new IllegalArgumentException("counts must be an array");
    }
    List<UsageCount> list = new ArrayList<>(counts.size());
    for (JsonNode c : counts) {
      String service = name(c, "service", false);
      String route = name(c, "route", false);
      String consumer = name(c, "consumer", true);
      list.add(
          new UsageCount(
              Objects.requireNonNull(service),
              Objects.requireNonNull(route),
              consumer == null || consumer.isEmpty() ? null : consumer,
              count(c, "1xx"),
              count(c, "2xx"),
              count(c, "3xx"),
              count(c, "4xx"),
              count(c, "5xx")));
    }
    return new UsageBatch(connectionNodeId, stream.asText(), seq, start, end, list);
  }

  private static long natural(JsonNode m, String field) {
    JsonNode v = m.path(field);
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
      throw new IllegalArgumentException(field + " must be a non-negative integer");
    }
    return v.asLong();
  }

  private static long count(JsonNode c, String field) {
    return c.has(field) ? natural(c, field) : 0;
  }

  private static @Nullable String name(JsonNode c, String field, boolean optional) {
    JsonNode v = c.path(field);
    if (v.isMissingNode() && optional) {
      return null;
    }
    if (!v.isTextual()
        || (!optional && v.asText().isEmpty())
        || v.asText().length() > UsageRecorder.MAX_NAME_LENGTH) {
      throw new IllegalArgumentException(
          "counts[]." + field + " must be a string of at most " + UsageRecorder.MAX_NAME_LENGTH);
    }
    return v.asText();
  }
}
