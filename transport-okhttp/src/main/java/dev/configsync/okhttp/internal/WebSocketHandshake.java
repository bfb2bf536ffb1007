package dev.configsync.okhttp.internal;

import java.util.Base64;
import java.util.Random;
import okio.ByteString;

/**
 * The key/accept computation of the RFC 6455 opening handshake (section 4).
 *
 * <p>Stateless and thread-safe. Not API: part of the transport's internals, shared with the
 * testkit; may change in any release.
 */
public final class WebSocketHandshake {
  /** The GUID RFC 6455 appends to the client's key before hashing it. */
  public static final String ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

  private WebSocketHandshake() {}

  /**
   * A fresh {@code Sec-WebSocket-Key}: 16 bytes from {@code random}, base64-encoded (24
   * characters). Clients should pass a {@link java.security.SecureRandom}; the caller must make
   * sure {@code random} may be used from the calling thread.
   */
  public static String newKey(Random random) {
    byte[] nonce = new byte[16];
    random.nextBytes(nonce);
    return Base64.getEncoder().encodeToString(nonce);
  }

  /**
   * The {@code Sec-WebSocket-Accept} value a server must answer {@code key} with: base64(SHA-1(key
   * + {@value #ACCEPT_GUID})). {@code key} is used exactly as given (the caller trims header
   * whitespace).
   */
  public static String acceptFor(String key) {
    return ByteString.encodeUtf8(key + ACCEPT_GUID).sha1().base64();
  }

  /**
   * True if {@code key} is a well-formed {@code Sec-WebSocket-Key}: padded base64 that decodes to
   * exactly 16 bytes, as RFC 6455 section 4.1 requires of clients.
   */
  public static boolean isValidKey(String key) {
    if (key.length() != 24) {
      return false;
    }
    try {
      return Base64.getDecoder().decode(key).length == 16;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
