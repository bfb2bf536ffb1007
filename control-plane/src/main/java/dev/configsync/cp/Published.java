package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import java.time.Instant;
import java.util.Set;

/**
 * One published configuration, encoded once: every node is sent the same {@link #frame} bytes.
 *
 * @param sequence increases with every publish of this server, so a connection can ignore an offer
 *     older than one it already has
 * @param frame the gzip {@code reconfigure} payload; never modified after construction
 * @param plugins the names of every plugin (capability) the configuration uses
 */
// The frame array is shared on purpose (one encoding for every node) and never modified.
@SuppressWarnings("ArrayRecordComponent")
record Published(
    long sequence,
    ConfigHashes hashes,
    byte[] frame,
    JsonNode config,
    Set<String> plugins,
    Instant publishedAt) {

  String hash() {
    return hashes.config();
  }
}
