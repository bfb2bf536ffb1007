package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.Versions;
import dev.configsync.internal.delta.DeltaFrame;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One data plane's configuration connection, after the WebSocket upgrade.
 *
 * <p>Threading: every method except {@link #offerFromAnyThread} runs on the channel's event loop,
 * so the fields need no locks. Flow control: at most one configuration frame is being written to
 * the node and at most one waits behind it; a newer publish replaces the waiting one. A node that
 * reads slowly therefore never makes the control plane hold more than two frames for it: the
 * compressed bytes are shared with every other node, and the TLS layer holds one encrypted copy of
 * the frame being written.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class OutletSession extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(OutletSession.class);

  private final Outlet outlet;
  private final Channel channel;
  private final String nodeId;
  private final String hostname;
  private final String version;
  private final String address;
  private final String certificate;
  private final Compatibility.Verdict versionVerdict;

  private boolean helloReceived;
  private boolean pinged;
  private boolean closing;
  private String reportedHash = ConfigHash.NONE;
  // What this node will run once everything sent has arrived: the hash of its first ping, then the
  // hash of the last frame sent. Deciding "already has it" by the last ping instead would skip a
  // rollback published while a newer frame was on its way.
  private String delivered = ConfigHash.NONE;
  private Map<String, String> capabilities = Map.of();
  // What the node declared once the registry admitted it; null before that and once closing. Read
  // by the admin thread to count who a publish goes to (see Outlet#tally).
  private volatile @Nullable Map<String, String> admittedPlugins;
  // The verdict for the plugin set looked at last (see verdictFor): a publish asks for it up to
  // three times per node (its offer, the log line and the admin answer count who it goes to), and
  // an edit that touches no plugin keeps the set; a cache only, any thread.
  private volatile @Nullable PluginVerdict lastVerdict;
  // The sync status this session last put in the registry (event loop): an offer whose verdict is
  // the same leaves the entry alone.
  private Compatibility.@Nullable Verdict registeredVerdict;
  private volatile boolean ending;
  // The node announced configsync's incremental sync in basic_info ("configsync":{"delta":1}).
  private boolean deltaCapable;
  // The node refused a change and asked for the whole configuration: the next frame is whole.
  private boolean sendFull;
  private long newestOffered = -1;
  private boolean writing;
  // A change sent and not answered yet (the node's ping has not reported its target, or anything
  // but its base, and it reported no error). Nothing more is sent meanwhile (a newer publish waits,
  // and goes as one change from what the node then reports): a change is made from the
  // configuration the node runs, and one made from the base while the change in flight is still
  // being applied would not fit. Whole frames are not waited for: a node that refuses one need not
  // say so (error reports are optional), and what follows one does not depend on it.
  private @Nullable String inFlight;
  private String inFlightBase = ConfigHash.NONE;
  private long inFlightSince;
  private @Nullable Published waiting;
  private final Liveness liveness;
  // Read by tests and diagnostics from other threads.
  private final java.util.concurrent.atomic.AtomicInteger framesStarted =
      new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger framesReplaced =
      new java.util.concurrent.atomic.AtomicInteger();
  private final java.util.concurrent.atomic.AtomicInteger deltaFramesStarted =
      new java.util.concurrent.atomic.AtomicInteger();

  OutletSession(
      Outlet outlet,
      Channel channel,
      String nodeId,
      String hostname,
      String version,
      String address,
      String certificate) {
    this.outlet = outlet;
    this.channel = channel;
    this.nodeId = nodeId;
    // Node-supplied: kept printable and short, since they go into logs and the registry.
    this.hostname = LogSafe.text(hostname, 255);
    this.version = LogSafe.text(version, 64);
    this.address = address;
    this.certificate = certificate;
    this.versionVerdict = Compatibility.checkVersion(this.version, outlet.version);
    this.liveness =
        new Liveness(channel, outlet.deadAfter, () -> closing, () -> false, this::silent);
  }

  String nodeId() {
    return nodeId;
  }

  /** This connection's event loop (for tests). */
  io.netty.channel.EventLoop eventLoop() {
    return channel.eventLoop();
  }

  /** Completes when this connection is closed. */
  io.netty.channel.ChannelFuture closeFuture() {
    return channel.closeFuture();
  }

  /** How many configuration frames this connection started writing. */
  int framesStarted() {
    return framesStarted.get();
  }

  /** How many of the frames started were changes ({@code reconfigure_delta}). */
  int deltaFramesStarted() {
    return deltaFramesStarted.get();
  }

  /** Whether the node announced incremental sync (event loop; tests read it after a wait). */
  boolean deltaCapable() {
    return deltaCapable;
  }

  /** How many waiting frames a newer publish replaced before they were sent. */
  int framesReplaced() {
    return framesReplaced.get();
  }

  /** Whether this connection is closing or closed (any thread). */
  boolean isEnding() {
    return ending;
  }

  /**
   * Whether this node gets a configuration that uses {@code plugins} (the same rules as {@link
   * #offer}); null before its {@code basic_info} was admitted, or once the connection is closing.
   * Any thread.
   */
  Compatibility.@Nullable Verdict verdictFor(java.util.Set<String> plugins) {
    Map<String, String> declared = admittedPlugins;
    if (declared == null) {
      return null;
    }
    return verdict(plugins, declared);
  }

  /** The verdict for a configuration that uses {@code plugins}, given what the node declared. */
  private Compatibility.Verdict verdict(
      java.util.Set<String> plugins, Map<String, String> declared) {
    if (versionVerdict.status() != DataPlaneSyncStatus.NORMAL) {
      return versionVerdict;
    }
    PluginVerdict last = lastVerdict;
    if (last != null
        && last.declared() == declared
        && (last.plugins() == plugins || last.plugins().equals(plugins))) {
      return last.verdict();
    }
    Compatibility.Verdict verdict = Compatibility.checkPlugins(plugins, declared, outlet.plugins);
    lastVerdict = new PluginVerdict(plugins, declared, verdict);
    return verdict;
  }

  /** A verdict and what it was made from. */
  private record PluginVerdict(
      java.util.Set<String> plugins, Map<String, String> declared, Compatibility.Verdict verdict) {}

  /** Called on the event loop once this handler is in the pipeline. */
  void start() {
    outlet.sessions.add(this);
    liveness.start();
    log.debug("Data plane {} ({}, {}) upgraded to WebSocket", nodeId, hostname, address);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (closing) {
        if (msg instanceof CloseWebSocketFrame) {
          channel.close(); // the node answered our close frame: the closing handshake is done
        }
        return;
      }
      if (msg instanceof PingWebSocketFrame ping) {
        onPing(ping.content());
      } else if (msg instanceof BinaryWebSocketFrame binary) {
        if (!binary.isFinalFragment()) {
          violation("a fragmented frame; the protocol sends every message in one frame");
        } else {
          onBinary(binary.content());
        }
      } else if (msg instanceof TextWebSocketFrame) {
        violation("a text frame; the protocol uses binary frames only");
      } else if (msg instanceof ContinuationWebSocketFrame) {
        violation("a continuation frame; the protocol sends every message in one frame");
      } else if (msg instanceof CloseWebSocketFrame close) {
        log.info(
            "Data plane {} ({}) closed its connection: {} {}",
            nodeId,
            hostname,
            close.statusCode(),
            LogSafe.text(close.reasonText(), 123));
        closing = true;
        ending = true;
        channel
            .writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE))
            .addListener(ChannelFutureListener.CLOSE);
      } else if (msg instanceof PongWebSocketFrame) {
        // Unsolicited pongs are allowed (RFC 6455 5.5.3) and mean nothing here.
      } else if (msg instanceof WebSocketFrame) {
        violation("an unexpected frame type");
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onPing(ByteBuf payload) {
    if (!helloReceived) {
      violation("a ping before basic_info; basic_info must be the first frame");
      return;
    }
    if (payload.readableBytes() != HybridProtocol.PING_PAYLOAD_LENGTH) {
      violation(
          "a ping payload of "
              + payload.readableBytes()
              + " bytes; it must be the 32-character hash of the node's configuration");
      return;
    }
    String hash = payload.toString(StandardCharsets.US_ASCII);
    if (!ConfigHash.isValidHash(hash)) {
      violation("a ping payload that is not a lowercase hexadecimal hash");
      return;
    }
    liveness.heard();
    Instant now = outlet.registry.now();
    if (!hash.equals(reportedHash)) {
      log.debug("Data plane {} ({}) runs configuration {}", nodeId, hostname, hash);
    }
    reportedHash = hash;
    outlet.registry.update(nodeId, this, i -> NodeRegistry.with(i, true, now, hash));
    if (channel.isWritable()) {
      channel.writeAndFlush(new PongWebSocketFrame());
    } // else: the node does not read; queueing a pong per ping would grow without bound
    if (inFlight != null) {
      inFlightAnswered(hash);
    }
    if (!pinged) {
      // The first ping says what the node runs, so an unchanged configuration is not sent again.
      pinged = true;
      delivered = hash;
      Published latest = outlet.latest();
      if (latest != null) {
        offer(latest);
      }
    }
  }

  private void onBinary(ByteBuf content) {
    JsonNode message;
    try (InputStream in = new ByteBufInputStream(content)) {
      message = Json.readFrozen(in);
    } catch (IOException e) {
      violation("a binary frame that is not valid JSON: " + LogSafe.text(e.getMessage(), 200));
      return;
    }
    String type = message.path("type").asText("");
    if (!helloReceived) {
      if (!HybridProtocol.TYPE_BASIC_INFO.equals(type)) {
        violation(
            "a first message of type '" + LogSafe.text(type, 40) + "'; basic_info must come first");
        return;
      }
      onBasicInfo(message);
    } else if (HybridProtocol.TYPE_ERROR.equals(type)) {
      onErrorReport(message);
    } else {
      violation(
          "a message of type '"
              + LogSafe.text(type, 40)
              + "' after basic_info; only pings and error reports are allowed");
    }
  }

  /** The longest label key a node may declare, in characters. */
  static final int MAX_LABEL_KEY_LENGTH = 64;

  /** The longest label value a node may declare, in characters. */
  static final int MAX_LABEL_VALUE_LENGTH = 256;

  /**
   * Reads {@code basic_info}. What the node declares is checked against the limits before anything
   * is kept (a node over one is refused with 1008 and the limit it passed), and every string is
   * made {@link LogSafe} here, where it enters: nothing the node sent reaches a log line, an answer
   * or a compatibility reason as it was sent.
   */
  private void onBasicInfo(JsonNode message) {
    JsonNode plugins = message.path("plugins");
    if (!plugins.isArray() && !plugins.isMissingNode()) {
      violation("basic_info.plugins must be an array");
      return;
    }
    if (plugins.size() > outlet.maxNodePlugins) {
      overLimit(
          plugins.size() + " plugins; at most " + outlet.maxNodePlugins + " (maxNodePlugins)");
      return;
    }
    Map<String, String> caps = new LinkedHashMap<>();
    for (JsonNode plugin : plugins) {
      JsonNode name = plugin.path("name");
      JsonNode v = plugin.path("version");
      if (!name.isTextual() || !(v.isTextual() || v.isMissingNode())) {
        violation("basic_info.plugins entries must be {\"name\": string, \"version\": string}");
        return;
      }
      if (name.asText().length() > Compatibility.MAX_PLUGIN_NAME_LENGTH
          || v.asText("").length() > Versions.MAX_LENGTH) {
        overLimit(
            "a plugin name over "
                + Compatibility.MAX_PLUGIN_NAME_LENGTH
                + " or a plugin version over "
                + Versions.MAX_LENGTH
                + " characters");
        return;
      }
      caps.put(
          LogSafe.text(name.asText(), Compatibility.MAX_PLUGIN_NAME_LENGTH),
          LogSafe.text(v.asText(""), Versions.MAX_LENGTH));
    }
    JsonNode labelNode = message.path("labels");
    Map<String, String> labels = new LinkedHashMap<>();
    if (labelNode.isObject()) {
      if (labelNode.size() > outlet.maxNodeLabels) {
        overLimit(
            labelNode.size() + " labels; at most " + outlet.maxNodeLabels + " (maxNodeLabels)");
        return;
      }
      for (Map.Entry<String, JsonNode> f : labelNode.properties()) {
        if (!f.getValue().isTextual()) {
          violation("basic_info.labels values must be strings");
          return;
        }
        if (f.getKey().length() > MAX_LABEL_KEY_LENGTH
            || f.getValue().asText().length() > MAX_LABEL_VALUE_LENGTH) {
          overLimit(
              "a label key over "
                  + MAX_LABEL_KEY_LENGTH
                  + " or a label value over "
                  + MAX_LABEL_VALUE_LENGTH
                  + " characters");
          return;
        }
        labels.put(
            LogSafe.text(f.getKey(), MAX_LABEL_KEY_LENGTH),
            LogSafe.text(f.getValue().asText(), MAX_LABEL_VALUE_LENGTH));
      }
    } else if (!labelNode.isMissingNode() && !labelNode.isNull()) {
      violation("basic_info.labels must be an object");
      return;
    }
    Instant now = outlet.registry.now();
    DataPlaneInfo info =
        NodeRegistry.newNode(nodeId, hostname, address, version, Map.copyOf(caps), labels, now);
    if (versionVerdict.status() != DataPlaneSyncStatus.NORMAL) {
      info = NodeRegistry.withStatus(info, versionVerdict);
    }
    NodeRegistry.Admission admission = outlet.registry.connect(this, info, certificate);
    if (admission.refusal() != null) {
      close(WebSocketCloseStatus.POLICY_VIOLATION, "refused: " + admission.refusal());
      return;
    }
    helloReceived = true;
    // Kong's nodes never send this member; only a node that announced it is sent changes.
    deltaCapable =
        message.path(DeltaFrame.EXTENSION_MEMBER).path(DeltaFrame.DELTA_MEMBER).asInt(0)
            >= DeltaFrame.VERSION;
    capabilities = Map.copyOf(caps);
    admittedPlugins = capabilities;
    if (versionVerdict.status() != DataPlaneSyncStatus.NORMAL) {
      log.warn(
          "Data plane {} ({}) is not sent configuration: {}",
          nodeId,
          hostname,
          versionVerdict.reason());
    }
    OutletSession replaced = admission.replaced();
    if (replaced != null) {
      replaced.closeFromAnyThread("replaced by a newer connection from the same node_id");
    }
    log.info("Data plane {} ({}, {}, version {}) connected", nodeId, hostname, address, version);
  }

  /** Refuses a {@code basic_info} that declares more than the limits allow. */
  private void overLimit(String what) {
    close(WebSocketCloseStatus.POLICY_VIOLATION, "basic_info declares " + what);
  }

  private void onErrorReport(JsonNode message) {
    JsonNode error = message.path("error");
    String name = error.path("name").asText("error");
    String text = error.path("message").asText("");
    JsonNode hash = error.path("config_hash");
    Instant now = outlet.registry.now();
    DataPlaneInfo.ReportedError reported =
        new DataPlaneInfo.ReportedError(
            LogSafe.text(name, 200),
            LogSafe.text(text, 2000),
            hash.isTextual() && ConfigHash.isValidHash(hash.asText()) ? hash.asText() : null,
            now);
    log.warn(
        "Data plane {} ({}) could not apply configuration {}: {}: {}",
        nodeId,
        hostname,
        reported.configHash(),
        reported.name(),
        reported.message());
    outlet.registry.update(nodeId, this, i -> NodeRegistry.withError(i, reported));
    if (deltaCapable
        && message
            .path(DeltaFrame.EXTENSION_MEMBER)
            .path(HybridProtocol.SEND_FULL)
            .asBoolean(false)) {
      // A change did not apply on the node: the whole configuration goes at once.
      sendFull = true;
      inFlight = null;
      Published latest = outlet.latest();
      if (latest != null && !closing && pinged) {
        if (writing) {
          waiting = latest;
        } else {
          send(latest);
        }
      }
    } else if (inFlight != null) {
      // An error report answers the change in flight too (the node keeps what it ran): what waits
      // goes now.
      inFlight = null;
      if (!writing && pinged) {
        sendWaiting();
      }
    }
  }

  /** Posts {@code published} to this session's event loop. */
  void offerFromAnyThread(Published published) {
    try {
      channel.eventLoop().execute(() -> offer(published));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // The server is shutting down: this connection is closing anyway.
    }
  }

  private void offer(Published published) {
    if (closing || !pinged || published.sequence() <= newestOffered) {
      return;
    }
    newestOffered = published.sequence();
    Compatibility.Verdict verdict = verdict(published.plugins(), capabilities);
    if (!verdict.equals(registeredVerdict)) {
      registeredVerdict = verdict;
      outlet.registry.update(nodeId, this, i -> NodeRegistry.withStatus(i, verdict));
    }
    if (verdict.status() != DataPlaneSyncStatus.NORMAL) {
      waiting = null; // an older configuration must not follow a newer one
      log.warn(
          "Configuration {} withheld from data plane {} ({}): {}",
          published.hash(),
          nodeId,
          hostname,
          verdict.reason());
      return;
    }
    if (writing || inFlight != null) {
      if (waiting != null) {
        framesReplaced.incrementAndGet();
      }
      waiting = published; // latest wins: a frame not yet started is replaced
      return;
    }
    if (published.hash().equals(delivered)) {
      log.debug("Data plane {} already has {}; not sent", nodeId, published.hash());
      return;
    }
    send(published);
  }

  /**
   * Sends {@code published}: to a node that announced incremental sync and runs a configuration the
   * history keeps, the change from it (made off the event loop, once per base for every node);
   * else, or when the change is not worth it, the whole frame.
   */
  private void send(Published published) {
    writing = true;
    delivered = published.hash();
    // The node has answered every change sent before (one is in flight at a time): its last ping
    // says what it runs, which is what a change must be made from (after a whole frame it may
    // still be the one before: then the node refuses the change and is sent the whole frame).
    String base = reportedHash;
    inFlightBase = base;
    if (deltaCapable && !sendFull && !base.equals(ConfigHash.NONE)) {
      java.util.concurrent.CompletableFuture<byte @Nullable []> delta =
          outlet.history.deltaFrame(published, base);
      if (delta != null) {
        if (delta.isDone()) {
          write(published, delta.getNow(null));
        } else {
          // The history completes these futures normally, with null when the change is not made.
          whenDoneOnEventLoop(delta, () -> deltaReady(published, delta.getNow(null)));
        }
        return;
      }
    }
    write(published, null);
  }

  /** Runs {@code then} on this connection's event loop once {@code future} is done. */
  private void whenDoneOnEventLoop(
      java.util.concurrent.CompletableFuture<?> future, Runnable then) {
    future.whenComplete(
        (value, e) -> {
          try {
            channel.eventLoop().execute(then);
          } catch (java.util.concurrent.RejectedExecutionException closing) {
            // The server is shutting down: this connection is closing anyway.
          }
        });
  }

  /** The change for {@code published} is made (null: send the whole frame). Event loop. */
  private void deltaReady(Published published, byte @Nullable [] frame) {
    if (closing) {
      writing = false;
      return;
    }
    Published next = waiting;
    if (next != null && next.sequence() > published.sequence()) {
      // Latest wins: a newer publish came while the change was made; send that one instead, folded
      // from what the node runs.
      waiting = null;
      framesReplaced.incrementAndGet();
      send(next);
      return;
    }
    write(published, sendFull ? null : frame); // the node asked for the whole one meanwhile
  }

  private void write(Published published, byte @Nullable [] delta) {
    java.util.concurrent.CompletableFuture<byte[]> whole =
        delta == null ? published.wholeFrame() : null;
    if (whole != null && !whole.isDone()) {
      // An entity edit published ahead of its whole frame: this node takes the whole frame, so it
      // is made now (once, for every node that needs it) and sent once made, or the newer
      // configuration that came meanwhile is.
      whenDoneOnEventLoop(whole, () -> deltaReady(published, null));
      return;
    }
    if (whole != null && whole.isCompletedExceptionally()) {
      log.warn(
          "The whole frame of configuration {} could not be made; closing the connection of data"
              + " plane {} so that it is sent the configuration in force when it connects again",
          published.hash(),
          nodeId);
      writing = false;
      channel.close();
      return;
    }
    byte[] bytes = delta != null ? delta : java.util.Objects.requireNonNull(whole).join();
    sendFull = false;
    framesStarted.incrementAndGet();
    if (delta != null) {
      deltaFramesStarted.incrementAndGet();
    }
    channel
        .writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(bytes)))
        .addListener(
            future -> {
              writing = false;
              if (!future.isSuccess()) {
                log.debug("Sending to data plane {} failed: {}", nodeId, future.cause().toString());
                channel.close();
                return;
              }
              log.debug(
                  "Sent configuration {} to data plane {}{}",
                  published.hash(),
                  nodeId,
                  delta != null ? " as a change" : "");
              if (delta != null && !sendFull) {
                inFlight = published.hash();
                inFlightSince = System.nanoTime();
                return; // the next frame waits for the node's answer (inFlightAnswered)
              }
              sendWaiting();
            });
  }

  /** Sends the newest publish that waited, if the node does not have it already. Event loop. */
  private void sendWaiting() {
    Published next = waiting;
    waiting = null;
    if (next != null && !closing && (sendFull || !next.hash().equals(delivered))) {
      send(next);
    }
  }

  /**
   * A ping while a change is in flight (event loop). The node has taken the change when it reports
   * its target; when it reports something else than its base, it runs another configuration (an
   * operator loaded one, say): either way what waits is sent now, as a change from what the node
   * reports. A node answers every change (a ping once applied, an error report when refused), so
   * one that still reports the base after the liveness limit is in an unknown state: what waits
   * (never the same configuration again) is sent whole.
   */
  private void inFlightAnswered(String hash) {
    if (!hash.equals(inFlight) && hash.equals(inFlightBase)) {
      if (System.nanoTime() - inFlightSince < outlet.deadAfter.toNanos()) {
        return; // a ping sent before the node applied the change
      }
      log.warn(
          "Data plane {} ({}) still runs {} {} ms after it was sent a change to {}; the next"
              + " configuration goes to it whole",
          nodeId,
          hostname,
          hash,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - inFlightSince),
          inFlight);
      sendFull = waiting != null;
    }
    inFlight = null;
    if (!writing) {
      sendWaiting();
    }
  }

  /** The node sent no ping for {@code silentNanos}: the liveness limit. */
  private void silent(long silentNanos) {
    close(
        WebSocketCloseStatus.POLICY_VIOLATION,
        "no ping for "
            + TimeUnit.NANOSECONDS.toMillis(silentNanos)
            + " ms (the limit is "
            + outlet.deadAfter.toMillis()
            + " ms, 1.5 x heartbeat)");
  }

  private void violation(String what) {
    close(WebSocketCloseStatus.PROTOCOL_ERROR, "protocol violation: the node sent " + what);
  }

  void closeFromAnyThread(String reason) {
    closeFromAnyThread(WebSocketCloseStatus.POLICY_VIOLATION, reason);
  }

  /** Closes from another thread; a planned shutdown uses 1001 (going away) and logs at INFO. */
  void closeFromAnyThread(WebSocketCloseStatus status, String reason) {
    try {
      channel.eventLoop().execute(() -> close(status, reason));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      channel.close();
    }
  }

  /** Closes with a close frame that carries {@code reason}, and logs why. */
  void close(WebSocketCloseStatus status, String reason) {
    if (closing) {
      return;
    }
    closing = true;
    ending = true;
    admittedPlugins = null;
    if (status.equals(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE)) {
      log.info(
          "Closing connection of data plane {} ({}, {}): {}", nodeId, hostname, address, reason);
    } else {
      log.warn(
          "Closing connection of data plane {} ({}, {}): {}", nodeId, hostname, address, reason);
    }
    // The connection ends when the node answers with its own close frame (RFC 6455 5.5.1), not
    // when ours is written: see CloseHandshake.
    CloseHandshake.start(channel, status.code(), reason);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    closing = true;
    ending = true;
    admittedPlugins = null;
    liveness.stop();
    waiting = null;
    outlet.sessions.remove(this);
    if (helloReceived) {
      outlet.registry.disconnect(nodeId, this);
      log.info("Data plane {} ({}) disconnected", nodeId, hostname);
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.warn(
        "Connection of data plane {} ({}, {}) failed: {}",
        nodeId,
        hostname,
        address,
        OutletHttpHandler.safeFailure(cause));
    closing = true;
    ending = true;
    ctx.close();
  }
}
