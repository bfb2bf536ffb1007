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
 * @param payloadBytes the size of the compressed frame nodes are sent
 */
public record PublishedConfig(
    ConfigHashes hashes, JsonNode config, Instant publishedAt, int payloadBytes) {

  /** The configuration hash. */
  public String hash() {
    return hashes.config();
  }
}
