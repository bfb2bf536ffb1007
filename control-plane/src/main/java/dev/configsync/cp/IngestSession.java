package dev.configsync.cp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One data plane's usage telemetry connection ({@code /v1/ingest}), after the WebSocket upgrade.
 * Sends {@code {"type":"ingest_hello","ack":true}} at once (the configsync extension that tells a
 * node its batches will be acknowledged), hands every binary frame to {@link UsageIngest}, and
 * writes {@code {"type":"ack","stream":..,"seq":n}} once a batch is counted.
 *
 * <p>Threading: everything but the {@code ...FromAnyThread} methods runs on the channel's event
 * loop. Flow control: at most {@value #MAX_IN_FLIGHT} batches of one connection wait for the usage
 * thread; past that the connection is not read until they are done.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class IngestSession extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(IngestSession.class);
  static final int MAX_IN_FLIGHT = 8;

  private final UsageIngest ingest;
  private final Channel channel;
  private final String nodeId;
  private final String address;
  private volatile boolean refused;
  private boolean closing;
  private int inFlight;
  private final Liveness liveness;

  IngestSession(UsageIngest ingest, Outlet outlet, Channel channel, String nodeId, String address) {
    this.ingest = ingest;
    this.channel = channel;
    this.nodeId = nodeId;
    this.address = address;
    // Frames still being counted keep the connection alive: the node is waiting for their acks.
    this.liveness =
        new Liveness(
            channel,
            outlet.deadAfter,
            () -> closing,
            () -> inFlight > 0,
            silent ->
                close(
                    1008,
                    "no frame on the usage connection for "
                        + TimeUnit.NANOSECONDS.toMillis(silent)));
  }

  String nodeId() {
    return nodeId;
  }

  /** Completes when this connection is closed. */
  io.netty.channel.ChannelFuture closeFuture() {
    return channel.closeFuture();
  }

  /** Whether a batch of this connection was refused: later ones are dropped unprocessed. */
  boolean refused() {
    return refused;
  }

  /** Called on the event loop once this handler is in the pipeline and the upgrade is done. */
  void start() {
    ingest.sessions.add(this);
    String hello = "{\"type\":\"" + HybridProtocol.TYPE_INGEST_HELLO + "\",\"ack\":true}";
    channel.writeAndFlush(
        new BinaryWebSocketFrame(Unpooled.wrappedBuffer(hello.getBytes(StandardCharsets.UTF_8))));
    liveness.start();
    log.debug("Data plane {} ({}) opened its usage connection", nodeId, address);
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
      liveness.heard();
      if (msg instanceof PingWebSocketFrame) {
        channel.writeAndFlush(new PongWebSocketFrame());
      } else if (msg instanceof BinaryWebSocketFrame binary && binary.isFinalFragment()) {
        inFlight++;
        if (inFlight >= MAX_IN_FLIGHT) {
          channel.config().setAutoRead(false);
        }
        ingest.submit(this, ByteBufUtil.getBytes(binary.content()));
      } else if (msg instanceof CloseWebSocketFrame) {
        closing = true;
        channel
            .writeAndFlush(new CloseWebSocketFrame(1000, ""))
            .addListener(ChannelFutureListener.CLOSE);
      } else if (msg instanceof PongWebSocketFrame) {
        // unsolicited pongs are allowed
      } else if (msg instanceof WebSocketFrame) {
        close(1002, "protocol violation: usage batches are unfragmented binary frames");
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  /** The batch is counted (or was already): acknowledge it. */
  void ackFromAnyThread(String stream, long seq) {
    channel
        .eventLoop()
        .execute(
            () -> {
              done();
              if (closing) {
                return;
              }
              ObjectNode ack = Json.WRITER.createObjectNode();
              ack.put("type", HybridProtocol.TYPE_ACK).put("stream", stream).put("seq", seq);
              byte[] bytes;
              try {
                bytes = Json.WRITER.writeValueAsBytes(ack);
              } catch (JsonProcessingException e) {
                throw new IllegalStateException("an ack could not be written", e);
              }
              channel.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(bytes)));
            });
  }

  /** The batch was refused: close the connection (the node re-dials and sends it again). */
  void refuseFromAnyThread(int code, String reason) {
    refused = true;
    channel
        .eventLoop()
        .execute(
            () -> {
              done();
              close(code, reason);
            });
  }

  private void done() {
    inFlight--;
    if (inFlight < MAX_IN_FLIGHT && !closing) {
      channel.config().setAutoRead(true);
    }
  }

  private void close(int code, String reason) {
    if (closing) {
      return;
    }
    closing = true;
    log.warn("Closing usage connection of data plane {} ({}): {}", nodeId, address, reason);
    // The connection ends when the node answers with its own close frame: see CloseHandshake.
    CloseHandshake.start(channel, code, reason);
  }

  /** Closes from any thread (control plane shutdown). */
  void closeFromAnyThread(String reason) {
    try {
      channel.eventLoop().execute(() -> close(1001, reason));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      channel.close();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    closing = true;
    liveness.stop();
    ingest.sessions.remove(this);
    log.debug("Data plane {} closed its usage connection", nodeId);
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug(
        "Usage connection of data plane {} failed: {}",
        nodeId,
        OutletHttpHandler.safeFailure(cause));
    closing = true;
    ctx.close();
  }
}
