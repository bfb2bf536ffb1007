package dev.configsync.okhttp.internal;

import static dev.configsync.okhttp.internal.WebSocketFrame.CLOSE_INVALID_PAYLOAD;
import static dev.configsync.okhttp.internal.WebSocketFrame.CLOSE_MESSAGE_TOO_BIG;
import static dev.configsync.okhttp.internal.WebSocketFrame.CLOSE_PROTOCOL_ERROR;
import static dev.configsync.okhttp.internal.WebSocketFrame.MAX_CONTROL_PAYLOAD;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_BINARY;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_CLOSE;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_CONTINUATION;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_PING;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_PONG;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_TEXT;

import java.io.EOFException;
import java.io.IOException;
import java.util.Objects;
import okio.Buffer;
import okio.BufferedSource;
import okio.ByteString;

/**
 * Reads RFC 6455 frames from a stream, strictly: anything this codec does not speak is refused with
 * a {@link WebSocketProtocolException} naming the problem and the close code to fail the connection
 * with.
 *
 * <p>Refused: a clear FIN bit and continuation frames (fragmentation is not used by this protocol),
 * set RSV bits (no extension is ever negotiated), reserved opcodes, control frames with more than
 * 125 payload bytes, a mask bit that differs from {@code expectMasked}, a 64-bit length with its
 * top bit set (all 1002); payloads longer than {@code maxPayloadBytes} (1009, checked from the
 * header before anything is allocated or read); close frames with a 1-byte payload or a code
 * outside 1000-1003, 1007-1011, 3000-4999 (1002); text payloads and close reasons that are not
 * valid UTF-8 (1007). Non-minimal length encodings (e.g. a 5-byte payload announced with the 16-bit
 * form) are accepted. Whether text frames are welcome at all is the caller's decision.
 *
 * <p>Not thread-safe: one thread reads. After any exception the stream position is undefined, so
 * the connection must be failed (for a {@link WebSocketProtocolException}, after sending a close
 * frame with its {@link WebSocketProtocolException#closeCode()}).
 *
 * <p>Not API: part of the transport's internals, shared with the testkit; may change in any
 * release.
 */
public final class WebSocketFrameReader {
  private final BufferedSource source;
  private final boolean expectMasked;
  private final long maxPayloadBytes;
  private final byte[] maskKey = new byte[4];
  private final Buffer.UnsafeCursor cursor = new Buffer.UnsafeCursor();

  /**
   * Creates a reader.
   *
   * @param source the stream to read; frames are read from its current position
   * @param expectMasked true on a server, which reads client frames (these must be masked); false
   *     on a client, which reads server frames (these must not be)
   * @param maxPayloadBytes the largest payload accepted in one frame, from 0 to {@link
   *     Integer#MAX_VALUE}
   * @throws IllegalArgumentException if {@code maxPayloadBytes} is out of range
   */
  public WebSocketFrameReader(BufferedSource source, boolean expectMasked, long maxPayloadBytes) {
    this.source = Objects.requireNonNull(source, "source");
    if (maxPayloadBytes < 0 || maxPayloadBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "maxPayloadBytes must be in [0, " + Integer.MAX_VALUE + "]: " + maxPayloadBytes);
    }
    this.expectMasked = expectMasked;
    this.maxPayloadBytes = maxPayloadBytes;
  }

  /**
   * Blocks until one whole frame has been read, and returns it unmasked and validated.
   *
   * @throws EOFException if the stream ends, either cleanly before the first byte of a frame header
   *     (message starts with "stream ended before a frame header") or in the middle of a frame
   *     (message starts with "stream ended inside a frame")
   * @throws WebSocketProtocolException if the frame breaks the rules listed on this class
   * @throws IOException if the underlying stream fails
   */
  public WebSocketFrame readFrame() throws IOException {
    if (source.exhausted()) {
      throw new EOFException("stream ended before a frame header");
    }
    try {
      return readFrameBody();
    } catch (EOFException e) {
      EOFException truncated = new EOFException("stream ended inside a frame");
      truncated.initCause(e);
      throw truncated;
    }
  }

  private WebSocketFrame readFrameBody() throws IOException {
    int b0 = source.readByte() & 0xff;
    boolean fin = (b0 & 0x80) != 0;
    int rsv = b0 & 0x70;
    int opcode = b0 & 0x0f;
    if (rsv != 0) {
      throw protocolError(
          String.format(
              "reserved bits set in frame header byte 0x%02x; no extension was negotiated", b0));
    }
    switch (opcode) {
      case OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG -> {}
      case OP_CONTINUATION ->
          throw protocolError("continuation frame received; fragmented messages are not supported");
      default -> throw protocolError("reserved opcode 0x" + Integer.toHexString(opcode));
    }
    boolean control = (opcode & 0x8) != 0;
    if (!fin) {
      throw protocolError(
          control
              ? "fragmented " + WebSocketFrame.opcodeName(opcode) + " control frame (FIN clear)"
              : "fragmented message (FIN clear); fragmentation is not supported");
    }

    int b1 = source.readByte() & 0xff;
    boolean masked = (b1 & 0x80) != 0;
    if (masked != expectMasked) {
      throw protocolError(
          expectMasked
              ? "unmasked frame from a client; client frames must be masked"
              : "masked frame from a server; server frames must not be masked");
    }
    long length = b1 & 0x7f;
    if (length == 126) {
      length = source.readShort() & 0xffffL;
    } else if (length == 127) {
      length = source.readLong();
      if (length < 0) {
        throw protocolError("64-bit payload length has its most significant bit set");
      }
    }
    if (control && length > MAX_CONTROL_PAYLOAD) {
      throw protocolError(
          WebSocketFrame.opcodeName(opcode)
              + " frame declares "
              + length
              + " payload bytes; control frames carry at most "
              + MAX_CONTROL_PAYLOAD);
    }
    if (length > maxPayloadBytes) {
      throw new WebSocketProtocolException(
          WebSocketFrame.opcodeName(opcode)
              + " frame declares "
              + length
              + " payload bytes; the limit is "
              + maxPayloadBytes,
          CLOSE_MESSAGE_TOO_BIG);
    }
    if (masked) {
      source.readFully(maskKey);
    }

    Buffer buffer = new Buffer();
    source.readFully(buffer, length);
    if (masked) {
      WebSocketMasking.toggle(buffer, 0, maskKey, cursor);
    }
    ByteString payload = buffer.readByteString();

    if (opcode == OP_TEXT && !Utf8.isValid(payload)) {
      throw new WebSocketProtocolException(
          "text frame payload is not valid UTF-8", CLOSE_INVALID_PAYLOAD);
    }
    if (opcode == OP_CLOSE) {
      validateClosePayload(payload);
    }
    return new WebSocketFrame(opcode, payload);
  }

  private static void validateClosePayload(ByteString payload) throws WebSocketProtocolException {
    if (payload.size() == 0) {
      return;
    }
    if (payload.size() == 1) {
      throw protocolError("close frame payload of 1 byte; a close code needs 2");
    }
    int code = ((payload.getByte(0) & 0xff) << 8) | (payload.getByte(1) & 0xff);
    if (!WebSocketFrame.isValidCloseCode(code)) {
      throw protocolError(
          "close code "
              + code
              + " is not allowed on the wire (accepted: 1000-1003, 1007-1011, 3000-4999)");
    }
    if (!Utf8.isValid(payload.substring(2))) {
      throw new WebSocketProtocolException(
          "close reason is not valid UTF-8", CLOSE_INVALID_PAYLOAD);
    }
  }

  private static WebSocketProtocolException protocolError(String message) {
    return new WebSocketProtocolException(message, CLOSE_PROTOCOL_ERROR);
  }
}
