package dev.configsync.spi;

import java.io.IOException;
import java.util.Optional;
import java.util.UUID;

/**
 * Durable storage for the configuration a node runs, and for the node's identity.
 *
 * <p>The store keeps bytes, not parsed configurations: {@link #write} receives the exact gzip
 * payload of a {@code reconfigure} message (as the control plane sent it) and {@link #read} returns
 * those bytes unchanged. Checking them (gzip integrity, JSON, configuration hash) is the client's
 * job, so that a store never has to understand the protocol.
 *
 * <p>Threading: the client calls {@link #read}, {@link #moveAside} and {@link #nodeId} from one
 * thread during start-up, and {@link #write} from one cache-writer thread afterwards, never two
 * writes at once. Implementations need not be thread-safe beyond that.
 */
public interface SnapshotStore {

  /**
   * Returns the stored payload, or empty when there is none.
   *
   * @throws IOException when the payload exists but cannot be read (the client then treats it as
   *     damaged and calls {@link #moveAside})
   */
  Optional<byte[]> read() throws IOException;

  /**
   * Replaces the stored payload with {@code payload}, durably and atomically: after this returns
   * normally, a crash at any instant leaves either the new payload or (if this throws) the previous
   * one, never a mixture or a partial file.
   *
   * @throws IOException when the payload could not be made durable. The previous payload is then
   *     intact, except when the failure came after the atomic replace (for example the final
   *     directory sync): the new payload is then in place but may not survive a power loss
   */
  void write(byte[] payload) throws IOException;

  /**
   * Moves a damaged payload out of the way, keeping it for diagnosis, so that the next start does
   * not trip over it again.
   *
   * @param reason why the payload was found damaged, for logs
   * @return a description of where the payload went (for example a file name), for events and logs
   * @throws IOException when it could not be moved
   */
  String moveAside(String reason) throws IOException;

  /**
   * Returns this node's identity, creating and storing it on first use so that it survives
   * restarts.
   *
   * @throws IOException when the identity could neither be read nor created
   */
  UUID nodeId() throws IOException;

  /** A short human-readable description of where this store keeps data, for logs and status. */
  String describe();
}
