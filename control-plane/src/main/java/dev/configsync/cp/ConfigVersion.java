package dev.configsync.cp;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * One entry of the publish history ({@link ControlPlaneServer#history}, {@code GET
 * /config/history}): a configuration that became the one in force.
 *
 * @param hash its configuration hash
 * @param revision where it stands in the store's order: etcd's revision of the write for a shared
 *     store; for a store without revisions, the control plane's own count of configurations it took
 *     since it started (1 is the one loaded at start, or the first publish)
 * @param publishedAt when it was written (for a shared store, by the writer's clock)
 * @param replica the replica that wrote it (a shared store), or null (a store with one writer)
 */
public record ConfigVersion(
    String hash, long revision, Instant publishedAt, @Nullable String replica) {}
