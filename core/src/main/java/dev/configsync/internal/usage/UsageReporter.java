package dev.configsync.internal.usage;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ReconnectBackoff;
import dev.configsync.SyncEvent;
import dev.configsync.UsageCount;
import dev.configsync.UsageLink;
import dev.configsync.UsageStatus;
import dev.configsync.internal.ControlPlanes;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.ReconnectingLink;
import dev.configsync.internal.SerialContext;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SyncMetrics;
import dev.configsync.spi.Transport;
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
 * <p>Counts are drained from the {@link UsageCounters} every flush interval (or sooner when the
 * recorder holds a full batch of keys) into numbered batches, kept in a bounded buffer until the
 * control plane acknowledges them, and sent again on every new connection. Against a control plane
 * that sends no {@code ingest_hello} within the hello timeout (Kong's), batches are dropped once
 * written. The connection itself (replica choice, handshake timer, pings, dead detection, reconnect
 * delay) is a {@link ReconnectingLink}, the same mechanism as the configuration stream's. See
 * {@code docs/telemetry.md}. Not API.
 */
public final class UsageReporter {
  private static final Logger log = LoggerFactory.getLogger(UsageReporter.class);

  /** Drains without a request before an idle key is dropped from memory. */
  public static final int EVICT_AFTER_IDLE_FLUSHES = 2;

  /** The largest frame accepted from the control plane on the ingest connection (hello, acks). */
  private static final long MAX_INBOUND_FRAME = 64 * 1024;

  /**
   * The reporter's settings, decided by the builder.
   *
   * @param enabled whether usage is counted and sent at all
   * @param endpoints the ingest addresses
   * @param flushInterval how often counts become a batch
   * @param batchSize the most keys in one batch
   * @param bufferBatches the most batches kept until acknowledged
   * @param helloTimeout how long a new connection waits for {@code ingest_hello}
   * @param maxKeys the most keys counted at once
   * @param transport dials the control plane
   * @param scheduler timers and monotonic time
   * @param clock wall-clock time for batch windows and events
   * @param backoff the reconnect delay
   * @param heartbeat how often to ping
   * @param deadAfter silence after which the connection is dropped
   * @param handshakeTimeout the longest a connection attempt may take
   * @param metrics where sent batches are counted
   * @param events where {@link SyncEvent.UsageLost} goes
   */
  public record Settings(
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
      ReconnectBackoff backoff,
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
  private final UsageCounters recorder;
  private final ReconnectingLink connection;
  private final String stream = UUID.randomUUID().toString();

  private volatile UsageStatus status;

  // ---- reporter state ---------------------------------------------------------------------
  private UsageLink link;
  private @Nullable UUID nodeId;
  private @Nullable String query; // node_id, hostname, version: known once started
  private boolean started;
  private boolean timerRunning;
  private boolean flushAsked;
  private final ArrayDeque<Batch> buffer = new ArrayDeque<>();
  private long bufferedRecords;
  private long nextSeq = 1;
  private Instant windowStart;
  private Scheduler.@Nullable Cancellable flushTimer;
  private Scheduler.@Nullable Cancellable helloTimer;
  private long sentOnThisConnection; // highest seq written on the current connection
  private long sentBatches;
  private long acknowledgedBatches;
  private long lostBatches;
  private long lostRecords;
  private @Nullable String lastError;

  /** A reporter, idle until {@link #start}. */
  public UsageReporter(Settings settings) {
    this.s = settings;
    this.link = settings.enabled() ? UsageLink.IDLE : UsageLink.OFF;
    this.windowStart = settings.clock().instant();
    this.recorder =
        new UsageCounters(
            settings.enabled(),
            settings.maxKeys(),
            settings.batchSize(),
            () -> ctx.execute(this::arm),
            () -> ctx.execute(this::askFlush));
    this.connection =
        new ReconnectingLink(
            new ReconnectingLink.Settings(
                settings.transport(),
                settings.scheduler(),
                ctx,
                settings.endpoints(),
                settings.backoff(),
                settings.heartbeat(),
                settings.deadAfter(),
                settings.handshakeTimeout(),
                MAX_INBOUND_FRAME,
                "usage connection",
                silent -> "no frame on the usage connection for " + silent + " ms",
                () -> new byte[0]),
            new Events());
    this.status = buildStatus();
  }

  /** The counters behind the client's {@code UsageRecorder}. */
  public UsageCounters counters() {
    return recorder;
  }

  /** The stream id of this client run: batches are numbered within it. */
  public String stream() {
    return stream;
  }

  /** Never blocks; the buffer and link parts are as of the reporter's last change. */
  public UsageStatus status() {
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
  public void start(UUID id, String hostname, String version) {
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

  public static URI ingestUri(URI endpoint, UUID nodeId, String hostname, String version) {
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
  public void flush() {
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
        for (int k = 1; k <= UsageCounters.CLASSES; k++) {
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
    URI target = URI.create(connection.nextEndpoint() + q);
    link = UsageLink.CONNECTING;
    sentOnThisConnection = 0;
    log.debug("configsync node {} connecting usage telemetry to {}", nodeId, target);
    connection.open(target);
    refreshStatus();
  }

  /** The usage stream's side of its connection. */
  private final class Events implements ReconnectingLink.Handler {
    @Override
    public void opened(Transport.Connection c) {
      if (link != UsageLink.CONNECTING) {
        return;
      }
      link = UsageLink.DETECTING;
      // A configsync control plane says at once that it acknowledges; Kong's says nothing.
      helloTimer =
          connection.onConnection(
              s.helloTimeout(),
              () -> {
                if (link == UsageLink.DETECTING) {
                  connection.resetBackoff(); // a usable connection: the backoff starts over
                  setLink(UsageLink.FIRE_AND_FORGET);
                  sendPending();
                }
              });
      refreshStatus();
    }

    @Override
    public void received(byte[] payload) {
      onMessage(payload);
    }

    @Override
    public void heard() {
      // liveness only: the link noted it
    }

    @Override
    public void progress() {
      // a partial frame does not count as life on this connection
    }

    @Override
    public void lost(String reason) {
      UsageReporter.this.lost(reason);
    }
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
        connection.resetBackoff();
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
    Transport.Connection c = connection.openConnection();
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

  private void lost(String reason) {
    if (link == UsageLink.CLOSED) {
      return;
    }
    cancel(helloTimer);
    lastError = reason;
    if (buffer.isEmpty()) {
      log.debug("configsync node {} usage connection ended: {}", nodeId, reason);
      link = UsageLink.IDLE; // dial again when there is something to send
      refreshStatus();
      return;
    }
    Duration delay = connection.retryDelay();
    log.info(
        "configsync node {} usage telemetry disconnected: {}; {} batches waiting; retrying in {}"
            + " ms",
        nodeId,
        reason,
        buffer.size(),
        delay.toMillis());
    link = UsageLink.WAITING_RETRY;
    connection.retryAfter(
        delay,
        () -> {
          if (link == UsageLink.WAITING_RETRY) {
            connect();
          }
        });
    refreshStatus();
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
  public void close() {
    ctx.executeAndWait(
        () -> {
          if (link == UsageLink.CLOSED) {
            return;
          }
          if (started && s.enabled()) {
            flush(); // best effort: written now if the link is up, else lost with the process
          }
          cancel(flushTimer);
          link = UsageLink.CLOSED;
          connection.close("data plane shutting down");
          if (!buffer.isEmpty()) {
            log.info(
                "configsync node {} stops with {} usage batches ({} requests) not acknowledged",
                nodeId,
                buffer.size(),
                bufferedRecords);
          }
          refreshStatus();
        });
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
