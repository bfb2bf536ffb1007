package dev.configsync.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.spi.Transport;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import org.jspecify.annotations.Nullable;

/**
 * A minimal data plane for fleet-sized measurements: one WebSocket connection through the real
 * {@link OkHttpTransport} (mutual TLS, RFC 6455 codec, one reader thread), {@code basic_info}, a
 * first ping, and for every {@code reconfigure} frame: gunzip, a streaming parse of the whole
 * message to find {@code config_hash}, and a ping that reports it, as the protocol requires; and a
 * heartbeat ping every {@link #HEARTBEAT}, so that a long measurement does not outlast the control
 * plane's liveness limit. The pong that answers the ping after a frame tells that the control plane
 * has taken the reported hash (it records a ping before it answers it). It does not build a tree
 * nor verify the hash (a full {@code ConfigSyncClient} does both; the publish measurement uses
 * one).
 */
final class MiniNode implements Transport.Listener {
  private static final JsonFactory JSON = new JsonFactory();

  /** The heartbeat, as a node's default (the control plane calls a node dead after 1.5 x it). */
  static final Duration HEARTBEAT = Duration.ofSeconds(30);

  // One daemon thread sends every node's heartbeat (a ping is a short write on its connection).
  private static final java.util.concurrent.ScheduledExecutorService HEARTBEATS =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "mininode-heartbeat");
            t.setDaemon(true);
            return t;
          });
  private static final java.lang.management.ThreadMXBean CPU =
      java.lang.management.ManagementFactory.getThreadMXBean();
  private static final byte[] BASIC_INFO = HybridProtocol.basicInfo(CpRig.PLUGINS, Map.of());
  private static final byte[] BASIC_INFO_DELTAS =
      HybridProtocol.basicInfo(CpRig.PLUGINS, Map.of(), true);

  final UUID id = UUID.randomUUID();
  private final Consumer<MiniNode> onApplied;
  private final Consumer<MiniNode> onOpen;
  private final CountDownLatch assigned = new CountDownLatch(1);
  private volatile Transport.@Nullable Connection connection;
  private volatile String hash = ConfigHash.NONE;
  private volatile @Nullable Throwable failure;
  private final AtomicLong decodeNanos;
  private final boolean deltas;
  private volatile byte @Nullable [] lastPayload;
  private volatile java.util.concurrent.@Nullable ScheduledFuture<?> heartbeat;
  private final Consumer<MiniNode> onAcknowledged;
  // A frame's hash was pinged and its pong has not come yet (the reader thread's).
  private volatile boolean awaitingPong;
  // For a run that times out: when this node opened, last sent a ping and last had a pong.
  private static final long NEVER = Long.MIN_VALUE;
  private volatile long openedAt = NEVER;
  private volatile long lastPingAt = NEVER;
  private volatile long lastPongAt = NEVER;
  private final java.util.concurrent.atomic.AtomicInteger pingsRefused =
      new java.util.concurrent.atomic.AtomicInteger();

  MiniNode(Consumer<MiniNode> onOpen, Consumer<MiniNode> onApplied, AtomicLong decodeNanos) {
    this(onOpen, onApplied, decodeNanos, false);
  }

  /**
   * As the other constructor; with {@code deltas} the node announces configsync's incremental sync
   * in {@code basic_info}, and is then sent {@code reconfigure_delta} messages, whose {@code
   * config_hash} it reads and reports as it does a whole configuration's.
   */
  MiniNode(
      Consumer<MiniNode> onOpen,
      Consumer<MiniNode> onApplied,
      AtomicLong decodeNanos,
      boolean deltas) {
    this(onOpen, onApplied, decodeNanos, deltas, node -> {});
  }

  /**
   * As the other constructors; {@code onAcknowledged} is called with the first pong after the ping
   * that reported a frame's hash: the control plane records a ping before it answers it, so by then
   * it lists the node on that hash (a heartbeat's pong still on its way could come first; a caller
   * checks the list once all are acknowledged).
   */
  MiniNode(
      Consumer<MiniNode> onOpen,
      Consumer<MiniNode> onApplied,
      AtomicLong decodeNanos,
      boolean deltas,
      Consumer<MiniNode> onAcknowledged) {
    this.onOpen = onOpen;
    this.onAcknowledged = onAcknowledged;
    this.onApplied = onApplied;
    this.decodeNanos = decodeNanos;
    this.deltas = deltas;
  }

  /** The last binary message received, as it came (gzip). */
  byte @Nullable [] lastPayload() {
    return lastPayload;
  }

  void connect(Transport transport, URI controlPlane) {
    URI uri =
        URI.create(
            controlPlane
                + HybridProtocol.OUTLET_PATH
                + "?node_id="
                + id
                + "&node_hostname="
                + URLEncoder.encode(
                    "bench-" + id.toString().substring(0, 8), StandardCharsets.UTF_8)
                + "&node_version=0.1.0");
    connection =
        transport.connect(
            new Transport.ConnectRequest(uri, 64L << 20, Duration.ofSeconds(60)), this);
    assigned.countDown();
  }

  String hash() {
    return hash;
  }

  @Nullable Throwable failure() {
    return failure;
  }

  void cancel() {
    stopHeartbeat();
    Transport.Connection c = connection;
    if (c != null) {
      c.cancel();
    }
  }

  private Transport.Connection connection() {
    try {
      if (!assigned.await(60, TimeUnit.SECONDS)) {
        throw new IllegalStateException("connection not assigned");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    Transport.Connection c = connection;
    if (c == null) {
      throw new IllegalStateException("connection not assigned");
    }
    return c;
  }

  @Override
  public void onOpen() {
    Transport.Connection c = connection();
    openedAt = System.nanoTime();
    c.sendBinary(deltas ? BASIC_INFO_DELTAS : BASIC_INFO);
    ping(c, hash);
    heartbeat =
        HEARTBEATS.scheduleAtFixedRate(
            () -> ping(c, hash), HEARTBEAT.toMillis(), HEARTBEAT.toMillis(), TimeUnit.MILLISECONDS);
    onOpen.accept(this);
  }

  @Override
  public void onBinary(byte[] payload) {
    lastPayload = payload;
    long start = CPU.getCurrentThreadCpuTime();
    String h;
    try {
      h = configHash(payload);
    } catch (IOException | RuntimeException e) {
      failure = e;
      return;
    }
    decodeNanos.addAndGet(CPU.getCurrentThreadCpuTime() - start);
    hash = h;
    awaitingPong = true;
    ping(connection(), h);
    onApplied.accept(this);
  }

  private void ping(Transport.Connection c, String reported) {
    lastPingAt = System.nanoTime();
    if (!c.sendPing(HybridProtocol.pingPayload(reported))) {
      pingsRefused.incrementAndGet();
    }
  }

  static boolean anyFailed(List<MiniNode> nodes) {
    for (MiniNode node : nodes) {
      if (node.failure != null) {
        return true;
      }
    }
    return false;
  }

  /**
   * What {@code nodes} did, for a run that timed out waiting for them to report {@code hash}: how
   * many report it, have failed (by message, numbers as N), never opened, had a ping refused by
   * their connection, and how long ago the oldest last ping (handed to the connection) and pong
   * were.
   */
  static String describe(List<MiniNode> nodes, String hash) {
    long now = System.nanoTime();
    int on = 0;
    int unopened = 0;
    int refused = 0;
    long oldestPing = 0;
    long oldestPong = 0;
    Map<String, Integer> failures = new java.util.TreeMap<>();
    for (MiniNode node : nodes) {
      if (node.hash.equals(hash)) {
        on++;
      }
      if (node.openedAt == NEVER) {
        unopened++;
      }
      if (node.pingsRefused.get() > 0) {
        refused++;
      }
      if (node.lastPingAt != NEVER) {
        oldestPing = Math.max(oldestPing, now - node.lastPingAt);
      }
      if (node.openedAt != NEVER) {
        oldestPong = Math.max(oldestPong, now - Math.max(node.lastPongAt, node.openedAt));
      }
      Throwable f = node.failure;
      if (f != null) {
        failures.merge(String.valueOf(f.getMessage()).replaceAll("\\d+", "N"), 1, Integer::sum);
      }
    }
    return String.format(
        java.util.Locale.ROOT,
        "%d of %d nodes on %s; %d never opened; %d had a ping refused; oldest last ping %d ms ago,"
            + " oldest last pong %d ms ago; failures %s",
        on,
        nodes.size(),
        hash,
        unopened,
        refused,
        TimeUnit.NANOSECONDS.toMillis(oldestPing),
        TimeUnit.NANOSECONDS.toMillis(oldestPong),
        failures);
  }

  /** Inflates the whole frame and reads the message's {@code config_hash}. */
  static String configHash(byte[] frame) throws IOException {
    String found = inflateAndScan(frame);
    if (found == null) {
      throw new IOException("no config_hash in the frame");
    }
    return found;
  }

  /**
   * Inflates gzipped JSON and reads all of it; returns its top-level {@code config_hash} string, or
   * null when it has none.
   */
  static @Nullable String inflateAndScan(byte[] gzipped) throws IOException {
    String found = null;
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gzipped), 64 * 1024);
        JsonParser p = JSON.createParser(in)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if ("config_hash".equals(name) && value == JsonToken.VALUE_STRING) {
          found = p.getText();
        } else {
          p.skipChildren();
        }
      }
    }
    return found;
  }

  @Override
  public void onPong(byte[] payload) {
    lastPongAt = System.nanoTime();
    if (awaitingPong) {
      awaitingPong = false;
      onAcknowledged.accept(this);
    }
  }

  @Override
  public void onPing(byte[] payload) {}

  @Override
  public void onClosed(int code, String reason) {
    failure = new IOException("closed by the control plane: " + code + " " + reason);
    stopHeartbeat();
  }

  @Override
  public void onFailure(Throwable error) {
    failure = error;
    stopHeartbeat();
  }

  private void stopHeartbeat() {
    java.util.concurrent.ScheduledFuture<?> beat = heartbeat;
    if (beat != null) {
      beat.cancel(false);
    }
  }
}
