package dev.configsync.okhttp.internal;

import java.net.ProtocolException;

/**
 * A peer sent bytes that break RFC 6455 (or the stricter subset this codec speaks). Carries the
 * close code the connection should be failed with, so the caller can send a close frame with that
 * code before dropping the connection.
 *
 * <p>Not API: part of the transport's internals, shared with the testkit; may change in any
 * release.
 */
public final class WebSocketProtocolException extends ProtocolException {
  private static final long serialVersionUID = 1L;

  private final int closeCode;

  /**
   * Creates the exception.
   *
   * @param message what was wrong, for logs; should name the offending field and value
   * @param closeCode the close code to fail the connection with, usually {@link
   *     WebSocketFrame#CLOSE_PROTOCOL_ERROR} (1002), {@link WebSocketFrame#CLOSE_INVALID_PAYLOAD}
   *     (1007) or {@link WebSocketFrame#CLOSE_MESSAGE_TOO_BIG} (1009)
   */
  public WebSocketProtocolException(String message, int closeCode) {
    super(message);
    this.closeCode = closeCode;
  }

  /**
   * Returns the close code suggested for failing the connection: 1002 (protocol error), 1007
   * (invalid payload data, e.g. bad UTF-8) or 1009 (message too big).
   */
  public int closeCode() {
    return closeCode;
  }
}
