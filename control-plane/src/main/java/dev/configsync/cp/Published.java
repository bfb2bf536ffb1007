package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * One published configuration, encoded once: every node is sent the same whole-frame bytes.
 *
 * <p>The whole frame is usually known when the configuration is published. An entity edit over a
 * store that keeps changes ahead of the whole frame ({@link ConfigStore#saveChange}) is published
 * as soon as its change is durable, and its whole frame is made only when something asks for it
 * ({@link WholeFrame}): nodes that take the change never wait for it; the others are sent the frame
 * once it is made.
 *
 * @param sequence increases with every publish of this server, so a connection can ignore an offer
 *     older than one it already has
 * @param whole the gzip {@code reconfigure} payload; its bytes are never modified
 * @param frameSize the whole frame's size in bytes, or for an edit published ahead of it, an
 *     estimate of it (the size of the frame before the edit; {@link #payloadBytes} is exact once
 *     the frame is made)
 * @param plugins the names of every plugin (capability) the configuration uses
 */
record Published(
    long sequence,
    ConfigHashes hashes,
    WholeFrame whole,
    int frameSize,
    JsonNode config,
    Set<String> plugins,
    Instant publishedAt) {

  /** A configuration whose whole frame is known. */
  Published(
      long sequence,
      ConfigHashes hashes,
      byte[] frame,
      JsonNode config,
      Set<String> plugins,
      Instant publishedAt) {
    this(sequence, hashes, WholeFrame.of(frame), frame.length, config, plugins, publishedAt);
  }

  String hash() {
    return hashes.config();
  }

  /** The whole frame, made now if nobody asked for it before. Never blocks. */
  CompletableFuture<byte[]> wholeFrame() {
    return whole.request();
  }

  /**
   * The whole frame, made now if nobody asked for it before, and waited for (never on an event
   * loop: sessions use {@link #wholeFrame}).
   */
  byte[] frame() {
    return whole.request().join();
  }

  /** The whole frame's size: exact once it is made, else the estimate {@link #frameSize}. */
  int payloadBytes() {
    byte[] made = whole.ifMade();
    return made != null ? made.length : frameSize;
  }
}
