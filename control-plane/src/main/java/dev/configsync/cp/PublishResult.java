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
 * @param payloadBytes the size of the whole compressed frame; for an entity edit sent to nodes as a
 *     change before its whole frame is made, an estimate: the size of the frame before the edit
 * @param version where the configuration in force stands in the order of publishes, as {@link
 *     ConfigVersion#revision()} gives it: etcd's revision of the write for a shared store (it only
 *     grows, across replicas and restarts); {@link FileConfigStore}'s number of the save, kept
 *     beside the file (it only grows, across restarts too); for a store without revisions ({@link
 *     InMemoryConfigStore}), this control plane's count of the configurations it took since it
 *     started (it grows while the process lives, and starts again at 1 after a restart, when the
 *     store is empty again anyway)
 */
public record PublishResult(
    ConfigHashes hashes, boolean changed, Instant publishedAt, int payloadBytes, long version) {

  /** The configuration hash, as nodes report it in their pings. */
  public String hash() {
    return hashes.config();
  }
}
