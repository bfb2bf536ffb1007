package dev.configsync.cp;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane's side of the WebSocket closing handshake (RFC 6455 5.5.1), the same on {@code
 * /v1/outlet} and {@code /v1/ingest}: send a close frame, and end the connection when the node
 * answers with its own (the session calls {@code channel.close()} on it), or after {@link
 * #REPLY_TIMEOUT_MS}. Closing at once instead, with a frame of the node's still unread, makes the
 * kernel reset the connection and drop the close frame before it is sent: the node then sees an end
 * of stream or a reset instead of the close code. Call on the channel's event loop.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class CloseHandshake {
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  /** How long a node has to answer a close frame before the connection is closed anyway. */
  static final long REPLY_TIMEOUT_MS = 2000;

  /** The longest close reason sent (a close frame's payload is at most 125 bytes). */
  static final int MAX_REASON_LENGTH = 120;

  private CloseHandshake() {}

  /**
   * Sends a close frame with {@code code} and {@code reason}, and bounds the wait for the reply.
   */
  static void start(Channel channel, int code, String reason) {
    String text =
        reason.length() <= MAX_REASON_LENGTH ? reason : reason.substring(0, MAX_REASON_LENGTH);
    channel
        .writeAndFlush(new CloseWebSocketFrame(code, text))
        .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    // A node that reads nothing, or does not answer, must not hold the connection open.
    channel.eventLoop().schedule(() -> channel.close(), REPLY_TIMEOUT_MS, TimeUnit.MILLISECONDS);
  }

  /**
   * Waits until every connection in {@code closing} has ended (its node answered the close frame,
   * or its bound ran out), for at most {@link #REPLY_TIMEOUT_MS} plus a second in all.
   */
  static void awaitAll(List<ChannelFuture> closing) {
    long bound = REPLY_TIMEOUT_MS + 1000;
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(bound);
    for (ChannelFuture closed : closing) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !closed.awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
        log.warn(
            "Data plane connections still open {} ms after the close frames; closing them", bound);
        return;
      }
    }
  }
}
