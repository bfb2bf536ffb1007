package dev.configsync.testkit;

import dev.configsync.okhttp.internal.WebSocketFrame;

/**
 * The kind of a WebSocket frame (its RFC 6455 opcode) that {@link TestControlPlane#sendFrame}
 * sends.
 */
public enum FrameType {
  /** A text message; configsync's protocol never uses one, so a node refuses it. */
  TEXT(WebSocketFrame.OP_TEXT),
  /** A binary message, as every configsync message is. */
  BINARY(WebSocketFrame.OP_BINARY),
  /** A close frame: an optional 2-byte close code followed by an optional UTF-8 reason. */
  CLOSE(WebSocketFrame.OP_CLOSE),
  /** A ping: the node must answer with a pong carrying the same payload. */
  PING(WebSocketFrame.OP_PING),
  /** A pong, unsolicited or not. */
  PONG(WebSocketFrame.OP_PONG);

  private final int opcode;

  FrameType(int opcode) {
    this.opcode = opcode;
  }

  WebSocketFrame frame(okio.ByteString payload) {
    return new WebSocketFrame(opcode, payload);
  }
}
