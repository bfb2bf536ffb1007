package dev.configsync.okhttp.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class WebSocketHandshakeTest {

  @Test
  void rfc6455Section13Example() {
    // The value printed in RFC 6455 section 1.3 (and 11.3.3); base64(SHA-1(key + GUID)).
    assertThat(WebSocketHandshake.acceptFor("dGhlIHNhbXBsZSBub25jZQ=="))
        .isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  }

  @Test
  void acceptIsSha1OfKeyAndGuid() throws Exception {
    String key = "x3JJHMbDL1EzLkh9GBhXDw==";
    byte[] digest =
        MessageDigest.getInstance("SHA-1")
            .digest(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII));
    assertThat(WebSocketHandshake.acceptFor(key))
        .isEqualTo(Base64.getEncoder().encodeToString(digest));
  }

  @Test
  void newKeyIs16RandomBytesInBase64() {
    SecureRandom random = new SecureRandom();
    String key = WebSocketHandshake.newKey(random);
    assertThat(key).hasSize(24);
    assertThat(Base64.getDecoder().decode(key)).hasSize(16);
    assertThat(WebSocketHandshake.isValidKey(key)).isTrue();
    assertThat(WebSocketHandshake.newKey(random)).isNotEqualTo(key);
  }

  @Test
  void isValidKeyRefusesMalformedKeys() {
    assertThat(WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ==")).isTrue();
    assertThat(WebSocketHandshake.isValidKey("")).isFalse();
    assertThat(WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ")).isFalse();
    assertThat(WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ=!")).isFalse();
    assertThat(WebSocketHandshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ==x")).isFalse();
    // 24 characters without padding: 18 bytes, not 16.
    assertThat(WebSocketHandshake.isValidKey("AAAAAAAAAAAAAAAAAAAAAAAA")).isFalse();
  }
}
