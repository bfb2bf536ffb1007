package dev.configsync.cp;

import dev.configsync.ConfigHashes;
import java.time.Instant;

/**
 * The outcome of {@link ControlPlaneServer#publish}.
 *
 * @param hashes the configuration's hash ({@code hashes.config()}) and its granular hashes
 * @param changed false when the configuration equalled the one already published: nothing was
 *     stored or sent
 * @param publishedAt when the configuration in force was published (for an unchanged one, when it
 *     first was)
 * @param payloadBytes the size of the compressed frame every node is sent
 */
public record PublishResult(
    ConfigHashes hashes, boolean changed, Instant publishedAt, int payloadBytes) {

  /** The configuration hash, as nodes report it in their pings. */
  public String hash() {
    return hashes.config();
  }
}
