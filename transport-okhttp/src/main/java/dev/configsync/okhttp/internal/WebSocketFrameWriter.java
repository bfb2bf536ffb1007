package dev.configsync.okhttp.internal;

import static dev.configsync.okhttp.internal.WebSocketFrame.MAX_CONTROL_PAYLOAD;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_BINARY;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_CLOSE;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_CONTINUATION;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_PING;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_PONG;
import static dev.configsync.okhttp.internal.WebSocketFrame.OP_TEXT;

import java.io.IOException;
import java.util.Objects;
import java.util.Random;
import okio.Buffer;
import okio.BufferedSink;
import okio.ByteString;

/**
 * Writes RFC 6455 frames to a stream. Every frame is whole (FIN set, never fragmented), carries no
 * RSV bits, and uses the shortest length encoding. A client masks each frame with a fresh 4-byte
 * key taken from {@link Random#nextInt()} (big-endian); a server does not mask.
 *
 * <p>Thread-safe: every write method holds this writer's lock while it encodes, writes and flushes
 * one frame, so frames from several threads never interleave; a slow peer therefore blocks all
 * writers (that is the back-pressure). Each call flushes before it returns.
 *
 * <p>Argument errors (oversize control payloads, close codes that may not be sent) throw {@link
 * IllegalArgumentException} before anything is written. An {@link IOException} from the sink leaves
 * the stream in an undefined state: the connection must be dropped.
 *
 * <p>The payload is copied once into a frame buffer owned by this writer and masked there in place,
 * segment by segment; the frame is then handed to the sink without further copies.
 *
 * <p>Not API: part of the transport's internals, shared with the testkit; may change in any
 * release.
 */
public final class WebSocketFrameWriter {
  private final BufferedSink sink;
  private final boolean mask;
  private final Random random;
  private final Buffer frame = new Buffer();
  private final byte[] maskKey = new byte[4];
  private final Buffer.UnsafeCursor cursor = new Buffer.UnsafeCursor();

  /**
   * Creates a writer.
   *
   * @param sink the stream to write frames to
   * @param mask true on a client (client frames must be masked), false on a server
   * @param random the source of masking keys; only called under this writer's lock. A client should
   *     pass a {@link java.security.SecureRandom} (RFC 6455 section 5.3 asks for keys a peer cannot
   *     predict); a server never calls it
   */
  public WebSocketFrameWriter(BufferedSink sink, boolean mask, Random random) {
    this.sink = Objects.requireNonNull(sink, "sink");
    this.mask = mask;
    this.random = Objects.requireNonNull(random, "random");
  }

  /** Writes one binary frame and flushes. */
  public void writeBinary(ByteString payload) throws IOException {
    writeFrame(OP_BINARY, payload);
  }

  /**
   * Writes one text frame holding {@code text} in UTF-8 and flushes. An unpaired surrogate in
   * {@code text} is encoded as {@code '?'}, so the frame is always valid UTF-8.
   */
  public void writeText(String text) throws IOException {
    writeFrame(OP_TEXT, ByteString.encodeUtf8(text));
  }

  /**
   * Writes one ping frame and flushes.
   *
   * @throws IllegalArgumentException if the payload is longer than 125 bytes
   */
  public void writePing(ByteString payload) throws IOException {
    writeFrame(OP_PING, payload);
  }

  /**
   * Writes one pong frame and flushes.
   *
   * @throws IllegalArgumentException if the payload is longer than 125 bytes
   */
  public void writePong(ByteString payload) throws IOException {
    writeFrame(OP_PONG, payload);
  }

  /**
   * Writes one close frame carrying {@code code} and {@code reason} and flushes.
   *
   * @throws IllegalArgumentException if {@code code} may not be sent (see {@link
   *     WebSocketFrame#isValidCloseCode}) or {@code reason} is longer than 123 UTF-8 bytes
   */
  public void writeClose(int code, String reason) throws IOException {
    write(WebSocketFrame.close(code, reason));
  }

  /**
   * Writes {@code frame} and flushes. Only frames {@link WebSocketFrameReader} would accept are
   * written (size limits aside).
   *
   * @throws IllegalArgumentException if the frame is a continuation frame, a control frame with
   *     more than 125 payload bytes, a close frame with an invalid code or a 1-byte payload, or a
   *     text frame whose payload (or a close frame whose reason) is not valid UTF-8
   */
  public void write(WebSocketFrame frame) throws IOException {
    ByteString payload = frame.payload();
    switch (frame.opcode()) {
      case OP_CLOSE -> {
        if (payload.size() == 1) {
          throw new IllegalArgumentException("close payload of 1 byte; a close code needs 2");
        }
        if (payload.size() >= 2) {
          int code = frame.closeCode();
          if (!WebSocketFrame.isValidCloseCode(code)) {
            throw new IllegalArgumentException("close code " + code + " may not be sent");
          }
          if (!Utf8.isValid(payload.substring(2))) {
            throw new IllegalArgumentException("close reason is not valid UTF-8");
          }
        }
      }
      case OP_TEXT -> {
        if (!Utf8.isValid(payload)) {
          throw new IllegalArgumentException("text payload is not valid UTF-8");
        }
      }
      default -> {}
    }
    writeFrame(frame.opcode(), payload);
  }

  private synchronized void writeFrame(int opcode, ByteString payload) throws IOException {
    if (opcode == OP_CONTINUATION) {
      throw new IllegalArgumentException("continuation frames are never written");
    }
    long length = payload.size();
    if ((opcode & 0x8) != 0 && length > MAX_CONTROL_PAYLOAD) {
      throw new IllegalArgumentException(
          WebSocketFrame.opcodeName(opcode)
              + " payload of "
              + length
              + " bytes; control frames carry at most "
              + MAX_CONTROL_PAYLOAD);
    }

    frame.clear(); // Drops leftovers of a write that failed half-way.
    frame.writeByte(0x80 | opcode);
    int maskBit = mask ? 0x80 : 0;
    if (length <= 125) {
      frame.writeByte(maskBit | (int) length);
    } else if (length <= 0xffff) {
      frame.writeByte(maskBit | 126);
      frame.writeShort((int) length);
    } else {
      frame.writeByte(maskBit | 127);
      frame.writeLong(length);
    }
    if (mask) {
      int key = random.nextInt();
      maskKey[0] = (byte) (key >>> 24);
      maskKey[1] = (byte) (key >>> 16);
      maskKey[2] = (byte) (key >>> 8);
      maskKey[3] = (byte) key;
      frame.write(maskKey);
      long payloadStart = frame.size();
      frame.write(payload);
      WebSocketMasking.toggle(frame, payloadStart, maskKey, cursor);
    } else {
      frame.write(payload);
    }
    sink.write(frame, frame.size());
    sink.flush();
  }
}
