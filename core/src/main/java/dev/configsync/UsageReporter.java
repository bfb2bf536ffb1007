package dev.configsync;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.SerialContext;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SyncMetrics;
import dev.configsync.spi.Transport;
import io.github.resilience4j.core.IntervalFunction;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends usage counts to the control plane on a connection of its own ({@code /v1/ingest}), from a
 * serial context of its own: nothing here ever runs in, or waits for, the configuration sync loop.
 * Every field below the "reporter state" line is touched only from tasks of {@link #ctx}.
 *
 * <p>Counts are drained from the {@link UsageRecorder} every flush interval (or sooner when the
 * recorder holds a full batch of keys) into numbered batches, kept in a bounded buffer until the
 * control plane acknowledges them, and sent again on every new connection. Against a control plane
 * that sends no {@code ingest_hello} within the hello timeout (Kong's), batches are dropped once
 * written. See {@code docs/telemetry.md}.
 */
final class UsageReporter {
  private static final Logger log = LoggerFactory.getLogger(UsageReporter.class);

  /** Drains without a request before an idle key is dropped from memory. */
  static final int EVICT_AFTER_IDLE_FLUSHES = 2;

  /** The largest frame accepted from the control plane on the ingest connection (hello, acks). */
  private static final long MAX_INBOUND_FRAME = 64 * 1024;

  /** The reporter's settings, decided by the builder. */
  record Settings(
      boolean enabled,
      ControlPlanes endpoints,
      Duration flushInterval,
      int batchSize,
      int bufferBatches,
      Duration helloTimeout,
      int maxKeys,
      Transport transport,
      Scheduler scheduler,
      Clock clock,
      IntervalFunction backoff,
      Duration heartbeat,
      Duration deadAfter,
      Duration handshakeTimeout,
      SyncMetrics metrics,
      Consumer<SyncEvent> events) {}

  /** One numbered batch, encoded once, sent as many times as it takes. */
  private static final class Batch {
    private final long seq;
    private final byte[] payload;
    private final long records;

    Batch(long seq, byte[] payload, long records) {
      this.seq = seq;
      this.payload = payload;
      this.records = records;
    }

    long seq() {
      return seq;
    }

    byte[] payload() {
      return payload;
    }

    long records() {
      return records;
    }
  }

  private final Settings s;
  private final SerialContext ctx = new SerialContext();
  private final UsageRecorder recorder;
  private final String stream = UUID.randomUUID().toString();

  private volatile UsageStatus status;

  // ---- reporter state ---------------------------------------------------------------------
  private UsageLink link;
  private @Nullable UUID nodeId;
  private @Nullable String query; // node_id, hostname, version: known once started
  private @Nullable URI lastTarget;
  private boolean started;
  private boolean timerRunning;
  private boolean flushAsked;
  private final ArrayDeque<Batch> buffer = new ArrayDeque<>();
  private long bufferedRecords;
  private long nextSeq = 1;
  private Instant windowStart;
  private int epoch;
  private Transport.@Nullable Connection connection;
  private Scheduler.@Nullable Cancellable flushTimer;
  private Scheduler.@Nullable Cancellable helloTimer;
  private Scheduler.@Nullable Cancellable pingTimer;
  private Scheduler.@Nullable Cancellable deadTimer;
  private Scheduler.@Nullable Cancellable retryTimer;
  private long lastReceivedNanos;
  private int attemptsSinceData;
  private long sentOnThisConnection; // highest seq written on the current connection
  private long sentBatches;
  private long acknowledgedBatches;
  private long lostBatches;
  private long lostRecords;
  private @Nullable String lastError;

  UsageReporter(Settings settings) {
    this.s = settings;
    this.link = settings.enabled() ? UsageLink.IDLE : UsageLink.OFF;
    this.windowStart = settings.clock().instant();
    this.recorder =
        new UsageRecorder(
            settings.enabled(),
            settings.maxKeys(),
            settings.batchSize(),
            () -> ctx.execute(this::arm),
            () -> ctx.execute(this::askFlush));
    this.status = buildStatus();
  }

  UsageRecorder recorder() {
    return recorder;
  }

  /** The stream id of this client run: batches are numbered within it. */
  String stream() {
    return stream;
  }

  /** Never blocks; the buffer and link parts are as of the reporter's last change. */
  UsageStatus status() {
    UsageStatus st = status;
    if (!s.enabled()) {
      return st;
    }
    // The recorder's counters move on every request; read them now rather than rebuild on each.
    return new UsageStatus(
        st.link(),
        st.bufferedBatches(),
        st.bufferedRecords(),
        recorder.keys(),
        st.sentBatches(),
        st.acknowledgedBatches(),
        st.lostBatches(),
        st.lostRecords(),
        recorder.refused(),
        st.lastError());
  }

  /** Called by the sync loop once the node identity is known. */
  void start(UUID id, String hostname, String version) {
    ctx.execute(
        () -> {
          if (link == UsageLink.CLOSED) {
            return;
          }
          nodeId = id;
          query = ingestQuery(id, hostname, version);
          started = true;
          if (timerRunning) {
            return;
          }
          if (flushAsked) {
            flush();
          }
        });
  }

  static URI ingestUri(URI endpoint, UUID nodeId, String hostname, String version) {
    return URI.create(endpoint + ingestQuery(nodeId, hostname, version));
  }

  private static String ingestQuery(UUID nodeId, String hostname, String version) {
    return "?node_id="
        + nodeId
        + "&node_hostname="
        + URLEncoder.encode(hostname, StandardCharsets.UTF_8)
        + "&node_version="
        + URLEncoder.encode(version, StandardCharsets.UTF_8);
  }

  /** The first request was counted: start the flush timer. */
  private void arm() {
    if (timerRunning || link == UsageLink.CLOSED || !s.enabled()) {
      return;
    }
    timerRunning = true;
    windowStart = now();
    scheduleFlush();
  }

  private void scheduleFlush() {
    flushTimer =
        s.scheduler()
            .schedule(
                () ->
                    ctx.execute(
                        () -> {
                          if (link != UsageLink.CLOSED) {
                            flush();
                            scheduleFlush();
                          }
                        }),
                s.flushInterval());
  }

  /** The recorder holds a full batch of keys: flush now rather than at the end of the window. */
  private void askFlush() {
    if (link == UsageLink.CLOSED) {
      return;
    }
    if (!started) {
      flushAsked = true;
      return;
    }
    flush();
  }

  // ---- batches --------------------------------------------------------------------------------

  /** Moves every count from the recorder into batches, then sends what can be sent. */
  void flush() {
    if (!started) {
      return;
    }
    flushAsked = false;
    Instant end = now();
    List<UsageCount> counts = recorder.drain(EVICT_AFTER_IDLE_FLUSHES);
    Instant start = windowStart;
    windowStart = end;
    for (int from = 0; from < counts.size(); from += s.batchSize()) {
      List<UsageCount> part = counts.subList(from, Math.min(counts.size(), from + s.batchSize()));
      long records = 0;
      for (UsageCount c : part) {
        records += c.total();
      }
      add(new Batch(nextSeq, encode(nextSeq, start, end, part), records));
      nextSeq++;
    }
    if (!buffer.isEmpty()) {
      sendOrConnect();
    }
    refreshStatus();
  }

  private void add(Batch batch) {
    long droppedBatches = 0;
    long droppedRecords = 0;
    while (buffer.size() >= s.bufferBatches()) {
      Batch oldest = buffer.removeFirst();
      bufferedRecords -= oldest.records();
      droppedBatches++;
      droppedRecords += oldest.records();
    }
    buffer.addLast(batch);
    bufferedRecords += batch.records();
    if (droppedBatches > 0) {
      lostBatches += droppedBatches;
      lostRecords += droppedRecords;
      log.warn(
          "configsync node {}: usage buffer full ({} batches); dropped the {} oldest, {} counted"
              + " requests lost ({} since start)",
          nodeId,
          s.bufferBatches(),
          droppedBatches,
          droppedRecords,
          lostRecords);
      s.events().accept(new SyncEvent.UsageLost(now(), droppedBatches, droppedRecords));
    }
  }

  private byte[] encode(long seq, Instant start, Instant end, List<UsageCount> counts) {
    ByteArrayOutputStream json = new ByteArrayOutputStream(64 + counts.size() * 64);
    try (JsonGenerator g = Json.WRITER.getFactory().createGenerator(json)) {
      g.writeStartObject();
      g.writeStringField("type", HybridProtocol.TYPE_USAGE);
      g.writeStringField("node_id", String.valueOf(nodeId));
      g.writeStringField("stream", stream);
      g.writeNumberField("seq", seq);
      g.writeNumberField("window_start", start.toEpochMilli());
      g.writeNumberField("window_end", end.toEpochMilli());
      g.writeArrayFieldStart("counts");
      for (UsageCount c : counts) {
        g.writeStartObject();
        g.writeStringField("service", c.service());
        g.writeStringField("route", c.route());
        if (c.consumer() != null) {
          g.writeStringField("consumer", c.consumer());
        }
        for (int k = 1; k <= UsageRecorder.CLASSES; k++) {
          long n = c.byClass(k);
          if (n != 0) {
            g.writeNumberField(k + "xx", n);
          }
        }
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // in memory: cannot happen
    }
    return Gzip.compress(json.toByteArray());
  }

  // ---- connection -----------------------------------------------------------------------------

  private void sendOrConnect() {
    switch (link) {
      case IDLE -> connect();
      case ACKNOWLEDGED, FIRE_AND_FORGET -> sendPending();
      default -> {
        // connecting, detecting or waiting: the buffer goes out once the link is up
      }
    }
  }

  private void connect() {
    String q = query;
    if (link == UsageLink.CLOSED || q == null) {
      return;
    }
    // Like the configuration connection: a replica at random on every attempt, never the one just
    // tried when there are several.
    URI base = s.endpoints().pick(lastTarget);
    lastTarget = base;
    URI target = URI.create(base + q);
    retryTimer = null;
    link = UsageLink.CONNECTING;
    attemptsSinceData++;
    int myEpoch = ++epoch;
    sentOnThisConnection = 0;
    log.debug("configsync node {} connecting usage telemetry to {}", nodeId, target);
    connection =
        s.transport()
            .connect(
                new Transport.ConnectRequest(target, MAX_INBOUND_FRAME, s.handshakeTimeout()),
                new Events(myEpoch));
    helloTimer =
        s.scheduler()
            .schedule(
                () ->
                    ctx.execute(
                        () -> {
                          if (myEpoch == epoch && link == UsageLink.CONNECTING) {
                            lost("connection not established within " + s.handshakeTimeout());
                          }
                        }),
                s.handshakeTimeout());
    refreshStatus();
  }

  private final class Events implements Transport.Listener {
    private final int myEpoch;

    Events(int myEpoch) {
      this.myEpoch = myEpoch;
    }

    private void post(Runnable task) {
      ctx.execute(
          () -> {
            if (myEpoch == epoch) {
              task.run();
            }
          });
    }

    @Override
    public void onOpen() {
      post(UsageReporter.this::onOpen);
    }

    @Override
    public void onBinary(byte[] payload) {
      post(
          () -> {
            touch();
            onMessage(payload);
          });
    }

    @Override
    public void onPong(byte[] payload) {
      post(UsageReporter.this::touch);
    }

    @Override
    public void onPing(byte[] payload) {
      post(UsageReporter.this::touch);
    }

    @Override
    public void onClosed(int code, String reason) {
      post(
          () ->
              lost(
                  "control plane closed the usage connection ("
                      + code
                      + (reason.isEmpty() ? "" : " " + reason)
                      + ")"));
    }

    @Override
    public void onFailure(Throwable error) {
      String message = error.getMessage();
      String type = error.getClass().getSimpleName();
      post(() -> lost(message == null || message.isBlank() ? type : type + ": " + message));
    }
  }

  private void onOpen() {
    if (link != UsageLink.CONNECTING) {
      return;
    }
    cancel(helloTimer);
    link = UsageLink.DETECTING;
    lastReceivedNanos = s.scheduler().nanoTime();
    int myEpoch = epoch;
    // A configsync control plane says at once that it acknowledges; Kong's says nothing.
    helloTimer =
        s.scheduler()
            .schedule(
                () ->
                    ctx.execute(
                        () -> {
                          if (myEpoch == epoch && link == UsageLink.DETECTING) {
                            attemptsSinceData = 0; // a usable connection: the backoff starts over
                            setLink(UsageLink.FIRE_AND_FORGET);
                            sendPending();
                          }
                        }),
                s.helloTimeout());
    schedulePing(myEpoch);
    scheduleDeadCheck(myEpoch, s.deadAfter());
    refreshStatus();
  }

  private void touch() {
    lastReceivedNanos = s.scheduler().nanoTime();
  }

  private void onMessage(byte[] payload) {
    JsonNode message;
    try {
      message = Json.readFrozen(payload);
    } catch (IOException e) {
      log.debug("configsync node {}: unreadable message on the usage connection", nodeId);
      return;
    }
    String type = message.path("type").asText("");
    if (HybridProtocol.TYPE_INGEST_HELLO.equals(type)) {
      if (link == UsageLink.DETECTING && message.path("ack").asBoolean(false)) {
        cancel(helloTimer);
        attemptsSinceData = 0;
        setLink(UsageLink.ACKNOWLEDGED);
        sendPending();
      }
    } else if (HybridProtocol.TYPE_ACK.equals(type)) {
      if (link != UsageLink.ACKNOWLEDGED || !stream.equals(message.path("stream").asText(""))) {
        return;
      }
      long seq = message.path("seq").asLong(-1);
      Iterator<Batch> it = buffer.iterator();
      while (it.hasNext()) {
        Batch b = it.next();
        if (b.seq() == seq) {
          it.remove();
          bufferedRecords -= b.records();
          acknowledgedBatches++;
          refreshStatus();
          break;
        }
      }
    } else {
      log.debug("configsync node {}: ignored a '{}' message on the usage connection", nodeId, type);
    }
  }

  private void setLink(UsageLink next) {
    if (link != next) {
      log.info(
          "configsync node {} usage telemetry {}",
          nodeId,
          next == UsageLink.ACKNOWLEDGED
              ? "connected; the control plane acknowledges batches"
              : "connected to a control plane that does not acknowledge batches (as Kong's);"
                  + " sending fire-and-forget");
    }
    link = next;
    refreshStatus();
  }

  /** Writes every batch not yet written on this connection, in order. */
  private void sendPending() {
    Transport.Connection c = connection;
    if (c == null) {
      return;
    }
    if (link == UsageLink.ACKNOWLEDGED) {
      for (Batch b : buffer) {
        if (b.seq() > sentOnThisConnection) {
          if (!c.sendBinary(b.payload())) {
            return; // the connection is going away: its end re-dials
          }
          sentOnThisConnection = b.seq();
          sentBatches++;
          s.metrics().usageBatchSent(b.payload().length);
        }
      }
    } else if (link == UsageLink.FIRE_AND_FORGET) {
      while (!buffer.isEmpty()) {
        Batch b = buffer.peekFirst();
        if (!c.sendBinary(b.payload())) {
          return;
        }
        buffer.removeFirst();
        bufferedRecords -= b.records();
        sentBatches++;
        s.metrics().usageBatchSent(b.payload().length);
      }
    }
    refreshStatus();
  }

  private void schedulePing(int myEpoch) {
    pingTimer =
        s.scheduler()
            .schedule(
                () ->
                    ctx.execute(
                        () -> {
                          Transport.Connection c = connection;
                          if (myEpoch == epoch && c != null && isOpen()) {
                            c.sendPing(new byte[0]);
                            schedulePing(myEpoch);
                          }
                        }),
                s.heartbeat());
  }

  private boolean isOpen() {
    return link == UsageLink.DETECTING
        || link == UsageLink.ACKNOWLEDGED
        || link == UsageLink.FIRE_AND_FORGET;
  }

  private void scheduleDeadCheck(int myEpoch, Duration delay) {
    deadTimer =
        s.scheduler()
            .schedule(
                () ->
                    ctx.execute(
                        () -> {
                          if (myEpoch != epoch || !isOpen()) {
                            return;
                          }
                          long silent = s.scheduler().nanoTime() - lastReceivedNanos;
                          long limit = s.deadAfter().toNanos();
                          if (silent >= limit) {
                            lost(
                                "no frame on the usage connection for "
                                    + Duration.ofNanos(silent).toMillis()
                                    + " ms");
                          } else {
                            scheduleDeadCheck(myEpoch, Duration.ofNanos(limit - silent));
                          }
                        }),
                delay);
  }

  private void lost(String reason) {
    if (link == UsageLink.CLOSED) {
      return;
    }
    cancelConnectionTimers();
    epoch++;
    Transport.Connection c = connection;
    connection = null;
    if (c != null) {
      c.cancel();
    }
    lastError = reason;
    if (buffer.isEmpty()) {
      log.debug("configsync node {} usage connection ended: {}", nodeId, reason);
      link = UsageLink.IDLE; // dial again when there is something to send
      refreshStatus();
      return;
    }
    long delay = Math.max(0, s.backoff().apply(Math.max(1, attemptsSinceData)));
    log.info(
        "configsync node {} usage telemetry disconnected: {}; {} batches waiting; retrying in {}"
            + " ms",
        nodeId,
        reason,
        buffer.size(),
        delay);
    link = UsageLink.WAITING_RETRY;
    retryTimer =
        s.scheduler()
            .schedule(
                () ->
                    ctx.execute(
                        () -> {
                          if (link == UsageLink.WAITING_RETRY) {
                            connect();
                          }
                        }),
                Duration.ofMillis(delay));
    refreshStatus();
  }

  private void cancelConnectionTimers() {
    cancel(helloTimer);
    cancel(pingTimer);
    cancel(deadTimer);
    helloTimer = null;
    pingTimer = null;
    deadTimer = null;
  }

  private static void cancel(Scheduler.@Nullable Cancellable timer) {
    if (timer != null) {
      timer.cancel();
    }
  }

  /**
   * Stops: takes the counts still in memory into a last batch and writes what the link allows
   * (without waiting for acknowledgements), then closes the connection. Blocks until done.
   */
  void close() {
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    ctx.execute(
        () -> {
          try {
            if (link == UsageLink.CLOSED) {
              return;
            }
            if (started && s.enabled()) {
              flush(); // best effort: written now if the link is up, else lost with the process
            }
            cancel(flushTimer);
            cancel(retryTimer);
            cancelConnectionTimers();
            epoch++;
            link = UsageLink.CLOSED;
            Transport.Connection c = connection;
            connection = null;
            if (c != null) {
              try {
                c.close(1000, "data plane shutting down");
              } catch (RuntimeException e) {
                c.cancel();
              }
            }
            if (!buffer.isEmpty()) {
              log.info(
                  "configsync node {} stops with {} usage batches ({} requests) not acknowledged",
                  nodeId,
                  buffer.size(),
                  bufferedRecords);
            }
            refreshStatus();
          } finally {
            done.countDown();
          }
        });
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Instant now() {
    return s.clock().instant();
  }

  private void refreshStatus() {
    status = buildStatus();
  }

  private UsageStatus buildStatus() {
    if (!s.enabled()) {
      return UsageStatus.OFF;
    }
    return new UsageStatus(
        link,
        buffer.size(),
        bufferedRecords,
        recorder.keys(),
        sentBatches,
        acknowledgedBatches,
        lostBatches,
        lostRecords,
        recorder.refused(),
        lastError);
  }
}
