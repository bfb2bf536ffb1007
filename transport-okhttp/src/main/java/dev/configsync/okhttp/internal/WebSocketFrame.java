package dev.configsync.okhttp.internal;

import java.util.Objects;
import okio.Buffer;
import okio.ByteString;

/**
 * One whole (unfragmented) RFC 6455 frame: its opcode and its unmasked payload.
 *
 * <p>Immutable and thread-safe. The constructor accepts any opcode RFC 6455 defines and any
 * payload; the rules about what may go on the wire (control payloads of at most 125 bytes, valid
 * close codes, UTF-8 text) are enforced by {@link WebSocketFrameReader} and {@link
 * WebSocketFrameWriter}, not here.
 *
 * <p>Not API: part of the transport's internals, shared with the testkit; may change in any
 * release.
 *
 * @param opcode one of the {@code OP_*} constants
 * @param payload the unmasked payload bytes
 */
public record WebSocketFrame(int opcode, ByteString payload) {
  /** Continuation of a fragmented message. Never produced or accepted by this codec. */
  public static final int OP_CONTINUATION = 0x0;

  /** A UTF-8 text message. */
  public static final int OP_TEXT = 0x1;

  /** A binary message. */
  public static final int OP_BINARY = 0x2;

  /** Close: an optional 2-byte code followed by an optional UTF-8 reason. */
  public static final int OP_CLOSE = 0x8;

  /** Ping: the peer must answer with a pong carrying the same payload. */
  public static final int OP_PING = 0x9;

  /** Pong: the answer to a ping, or an unsolicited heartbeat. */
  public static final int OP_PONG = 0xA;

  /** The largest payload a control frame (close, ping, pong) may carry. */
  public static final int MAX_CONTROL_PAYLOAD = 125;

  /** The largest close reason in UTF-8 bytes: a control payload less the 2-byte code. */
  public static final int MAX_CLOSE_REASON_BYTES = MAX_CONTROL_PAYLOAD - 2;

  /** Close code 1000: normal closure. */
  public static final int CLOSE_NORMAL = 1000;

  /** Close code 1001: the endpoint is going away (shutdown, navigation). */
  public static final int CLOSE_GOING_AWAY = 1001;

  /** Close code 1002: protocol error. */
  public static final int CLOSE_PROTOCOL_ERROR = 1002;

  /** Close code 1003: a data type the endpoint cannot accept (e.g. text where binary is used). */
  public static final int CLOSE_UNSUPPORTED_DATA = 1003;

  /**
   * Close code 1005: reported by {@link #closeCode()} for a close frame without a code. Never sent
   * on the wire.
   */
  public static final int CLOSE_NO_STATUS = 1005;

  /** Close code 1007: payload data inconsistent with the message type (e.g. invalid UTF-8). */
  public static final int CLOSE_INVALID_PAYLOAD = 1007;

  /** Close code 1008: policy violation. */
  public static final int CLOSE_POLICY_VIOLATION = 1008;

  /** Close code 1009: message too big to process. */
  public static final int CLOSE_MESSAGE_TOO_BIG = 1009;

  /** Close code 1011: the server hit an unexpected condition. */
  public static final int CLOSE_INTERNAL_ERROR = 1011;

  /**
   * Creates a frame.
   *
   * @throws IllegalArgumentException if {@code opcode} is not one RFC 6455 defines
   */
  public WebSocketFrame {
    Objects.requireNonNull(payload, "payload");
    if (!isKnownOpcode(opcode)) {
      throw new IllegalArgumentException("unknown opcode 0x" + Integer.toHexString(opcode));
    }
  }

  /** A text frame holding {@code text} encoded as UTF-8. */
  public static WebSocketFrame text(String text) {
    return new WebSocketFrame(OP_TEXT, ByteString.encodeUtf8(text));
  }

  /** A binary frame. */
  public static WebSocketFrame binary(ByteString payload) {
    return new WebSocketFrame(OP_BINARY, payload);
  }

  /** A ping frame. */
  public static WebSocketFrame ping(ByteString payload) {
    return new WebSocketFrame(OP_PING, payload);
  }

  /** A pong frame. */
  public static WebSocketFrame pong(ByteString payload) {
    return new WebSocketFrame(OP_PONG, payload);
  }

  /**
   * A close frame carrying {@code code} and {@code reason}.
   *
   * @throws IllegalArgumentException if {@code code} may not be sent (see {@link
   *     #isValidCloseCode}) or the reason is longer than {@value #MAX_CLOSE_REASON_BYTES} UTF-8
   *     bytes
   */
  public static WebSocketFrame close(int code, String reason) {
    if (!isValidCloseCode(code)) {
      throw new IllegalArgumentException("close code " + code + " may not be sent");
    }
    ByteString reasonBytes = ByteString.encodeUtf8(reason);
    if (reasonBytes.size() > MAX_CLOSE_REASON_BYTES) {
      throw new IllegalArgumentException(
          "close reason is "
              + reasonBytes.size()
              + " UTF-8 bytes; at most "
              + MAX_CLOSE_REASON_BYTES
              + " fit in a control frame");
    }
    Buffer buffer = new Buffer().writeShort(code).write(reasonBytes);
    return new WebSocketFrame(OP_CLOSE, buffer.readByteString());
  }

  /** True for close, ping and pong: opcodes with the high bit set. */
  public boolean isControl() {
    return (opcode & 0x8) != 0;
  }

  /**
   * The close code of a close frame, or {@link #CLOSE_NO_STATUS} (1005) if the frame carries no
   * code (empty payload). Does not validate the code: a frame read by {@link WebSocketFrameReader}
   * has been validated already.
   *
   * @throws IllegalStateException if this is not a close frame, or its payload is 1 byte long
   */
  public int closeCode() {
    requireClose();
    if (payload.size() == 0) {
      return CLOSE_NO_STATUS;
    }
    if (payload.size() < 2) {
      throw new IllegalStateException("close payload of 1 byte has no complete close code");
    }
    return ((payload.getByte(0) & 0xff) << 8) | (payload.getByte(1) & 0xff);
  }

  /**
   * The reason of a close frame, decoded from UTF-8; empty if there is none.
   *
   * @throws IllegalStateException if this is not a close frame
   */
  public String closeReason() {
    requireClose();
    return payload.size() <= 2 ? "" : payload.substring(2).utf8();
  }

  /**
   * The payload decoded as UTF-8 (malformed sequences replaced). Meant for text frames, which the
   * reader has already checked to be valid UTF-8.
   */
  public String text() {
    return payload.utf8();
  }

  /**
   * True if {@code code} may be sent in a close frame and is accepted in one: 1000-1003, 1007-1011
   * and 3000-4999. Codes 1004-1006 and 1015 are reserved and never sent; 1012-2999 are not accepted
   * by this codec either.
   */
  public static boolean isValidCloseCode(int code) {
    return (code >= 1000 && code <= 1003)
        || (code >= 1007 && code <= 1011)
        || (code >= 3000 && code <= 4999);
  }

  /** True for the six opcodes RFC 6455 defines; the others are reserved. */
  public static boolean isKnownOpcode(int opcode) {
    return switch (opcode) {
      case OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG -> true;
      default -> false;
    };
  }

  /** A short name for an opcode, for messages: "text", "binary", "close", ... or "0x3". */
  public static String opcodeName(int opcode) {
    return switch (opcode) {
      case OP_CONTINUATION -> "continuation";
      case OP_TEXT -> "text";
      case OP_BINARY -> "binary";
      case OP_CLOSE -> "close";
      case OP_PING -> "ping";
      case OP_PONG -> "pong";
      default -> "0x" + Integer.toHexString(opcode);
    };
  }

  /** Describes the frame by opcode name and payload size, without dumping the payload. */
  @Override
  public String toString() {
    return "WebSocketFrame[" + opcodeName(opcode) + ", " + payload.size() + " bytes]";
  }

  private void requireClose() {
    if (opcode != OP_CLOSE) {
      throw new IllegalStateException("not a close frame: " + opcodeName(opcode));
    }
  }
}
