package dev.configsync.cp;

import java.io.IOException;
import java.util.Optional;

/**
 * Where the control plane keeps the configuration it publishes, so that it survives a restart of
 * the control plane with the same hash (nodes that reconnect then see nothing new and do not
 * re-apply).
 *
 * <p>A store keeps bytes: the exact gzip payload of the {@code reconfigure} message that nodes are
 * sent, which is also the format of a data plane's {@code config.json.gz}. The control plane checks
 * what {@link #load} returns (gzip, JSON, hash) before using it, and refuses to start on a damaged
 * payload rather than start empty.
 *
 * <p>Implementations: {@link InMemoryConfigStore} (lost on restart) and {@link FileConfigStore}.
 *
 * <p>Threading: the control plane calls {@link #load} once while starting and {@link #save} from
 * one thread at a time (publishes are serialized). Implementations need not be thread-safe beyond
 * that.
 */
public interface ConfigStore extends AutoCloseable {

  /**
   * Returns the last saved payload, or empty when nothing was ever saved.
   *
   * @throws IOException when a payload exists but cannot be read
   */
  Optional<byte[]> load() throws IOException;

  /**
   * Replaces the saved payload, durably and atomically: once this returns, a crash at any instant
   * leaves the new payload; if it throws, the previous one is intact.
   *
   * @param payload the gzip {@code reconfigure} payload; the store must not modify it
   * @param hash the payload's configuration hash, for stores that index or compare by it
   * @throws IOException when the payload could not be made durable; the control plane then does not
   *     publish it
   */
  void save(byte[] payload, String hash) throws IOException;

  /** Where this store keeps data, for logs and {@code GET /status}. */
  String describe();

  /** Releases the store's resources. The default does nothing. */
  @Override
  default void close() throws IOException {}
}
