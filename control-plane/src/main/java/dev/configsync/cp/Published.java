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
 * as soon as its change is durable, and its whole frame completes {@link #whole} a little later
 * (nodes that take the change never wait for it; the others are sent the frame once it is there).
 *
 * @param sequence increases with every publish of this server, so a connection can ignore an offer
 *     older than one it already has
 * @param whole the gzip {@code reconfigure} payload; its bytes are never modified
 * @param frameSize the whole frame's size in bytes, or while {@link #whole} is not done, an
 *     estimate of it (the size of the frame before the edit)
 * @param plugins the names of every plugin (capability) the configuration uses
 */
record Published(
    long sequence,
    ConfigHashes hashes,
    CompletableFuture<byte[]> whole,
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
    this(
        sequence,
        hashes,
        CompletableFuture.completedFuture(frame),
        frame.length,
        config,
        plugins,
        publishedAt);
  }

  String hash() {
    return hashes.config();
  }

  /**
   * The whole frame, waiting for it if it is still being made (never on an event loop: sessions use
   * {@link #whole}).
   */
  byte[] frame() {
    return whole.join();
  }
}
