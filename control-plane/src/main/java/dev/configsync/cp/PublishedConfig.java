package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import java.time.Instant;

/**
 * The configuration a control plane currently publishes.
 *
 * @param hashes its hash ({@code hashes.config()}) and granular hashes
 * @param config the configuration table; read-only (mutators throw)
 * @param publishedAt when it was published (kept across restarts with a persistent store)
 * @param payloadBytes the size of the whole compressed frame; right after an entity edit whose
 *     whole frame nobody needed yet (nodes that take changes are sent only the change, see {@code
 *     docs/control-plane.md}), the size of the frame before the edit, an estimate
 */
public record PublishedConfig(
    ConfigHashes hashes, JsonNode config, Instant publishedAt, int payloadBytes) {

  /** The configuration hash. */
  public String hash() {
    return hashes.config();
  }
}
