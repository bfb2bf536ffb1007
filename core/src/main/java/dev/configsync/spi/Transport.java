package dev.configsync.spi;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * Opens connections to a control plane. The client owns the protocol (what to send, when, and what
 * a frame means); a transport only moves WebSocket messages over an authenticated channel.
 *
 * <p>Threading: {@link #connect} returns at once; the connection is established in the background.
 * All callbacks of one connection reach its {@link Listener} from the transport's threads, one at a
 * time and in order. Exactly one terminal callback ({@link Listener#onClosed} or {@link
 * Listener#onFailure}) ends each connection that was not {@link Connection#cancel() cancelled},
 * after which no other callback of that connection arrives. Listeners must return quickly: the
 * client only posts work to its sync loop from them.
 */
public interface Transport extends AutoCloseable {

  /**
   * Starts connecting to {@code request.uri()}.
   *
   * @return a handle that can send on, or cancel, the connection at any time, even before it is
   *     open (sends before {@link Listener#onOpen} are refused)
   */
  Connection connect(ConnectRequest request, Listener listener);

  /** Releases what the transport shares between connections (threads, pools). Idempotent. */
  @Override
  void close();

  /**
   * What to connect to and within which limits.
   *
   * @param uri the full WebSocket URI, query parameters included
   * @param maxFrameBytes the largest frame payload to accept; a larger frame is a protocol error
   *     and fails the connection before its payload is read into memory
   * @param handshakeTimeout the longest time TCP connect, TLS and the WebSocket upgrade together
   *     may take
   */
  record ConnectRequest(URI uri, long maxFrameBytes, Duration handshakeTimeout) {
    /** Checks the arguments. */
    public ConnectRequest {
      Objects.requireNonNull(uri, "uri");
      Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
      if (maxFrameBytes <= 0) {
        throw new IllegalArgumentException("maxFrameBytes must be positive: " + maxFrameBytes);
      }
    }
  }

  /** A connection, open or being opened. All methods are thread-safe and never block. */
  interface Connection {
    /** Queues one binary message. Returns false when the connection is not open. */
    boolean sendBinary(byte[] payload);

    /** Queues one ping frame with the given payload (at most 125 bytes). */
    boolean sendPing(byte[] payload);

    /** Starts a graceful close with the given WebSocket close code. Idempotent. */
    void close(int code, String reason);

    /**
     * Drops the connection at once, without a close handshake. No callback follows, not even a
     * terminal one. Idempotent.
     */
    void cancel();
  }

  /** Receives what happens on one connection. See {@link Transport} for the threading rules. */
  interface Listener {
    /** The WebSocket upgrade succeeded; sending is possible. */
    void onOpen();

    /** A binary message arrived. */
    void onBinary(byte[] payload);

    /** A pong arrived. */
    void onPong(byte[] payload);

    /** A ping arrived; the transport has already answered it with a pong. */
    void onPing(byte[] payload);

    /**
     * Bytes arrived that do not complete a frame yet: the peer is alive, a large message is on its
     * way. Lets the client's silence check count bytes rather than whole frames, so a large
     * configuration over a slow link is not cut off mid-frame. Transports should call it at most
     * every few tens of milliseconds; the default ignores it.
     */
    default void onProgress() {}

    /** The peer closed the connection with a close frame. Terminal. */
    void onClosed(int code, String reason);

    /**
     * The connection could not be opened, or broke: I/O error, TLS failure, protocol violation, a
     * frame over the size limit. Terminal.
     */
    void onFailure(Throwable error);
  }
}
