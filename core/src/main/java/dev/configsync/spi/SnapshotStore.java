package dev.configsync.spi;

import java.io.IOException;
import java.util.List;
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
 * <p>Journal (optional): a store may also keep changes to the stored payload ({@link #append}), so
 * that a small change to a large configuration costs a small durable append instead of a whole
 * write. A change is the exact payload of a {@code reconfigure_delta} message, again opaque to the
 * store. The client replays the journal on top of the payload at start-up ({@link #journal}), and
 * from time to time writes the whole configuration again ({@link #write}), which empties the
 * journal. Stores without a journal keep the two default methods: every change is then written
 * whole, as {@link #write}.
 *
 * <p>Threading: the client calls {@link #read}, {@link #journal}, {@link #moveAside} and {@link
 * #nodeId} from one thread during start-up, and {@link #write} and {@link #append} from one
 * cache-writer thread afterwards, never two at once. Implementations need not be thread-safe beyond
 * that.
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
   * Appends {@code change} to the journal of the stored payload, durably: after this returns {@code
   * true}, a crash at any instant leaves the change in {@link #journal()}, after the changes
   * appended before it. A {@link #write} empties the journal: changes belong to the payload they
   * were appended to. The client appends only a change whose base is what the store holds (the
   * payload and its journal), so a store needs no knowledge of what a change means.
   *
   * <p>A store that keeps no journal returns {@code false} (the default); so may a store that
   * cannot append now (for example after a failed write, until the next {@link #write}). The client
   * then writes the whole resulting payload instead.
   *
   * @param change the payload of one {@code reconfigure_delta} message, as received; not modified
   * @return whether the change was appended; {@code false} leaves the store as it was
   * @throws IOException when the change could not be made durable: it may or may not be in the
   *     journal then, and the client writes whole from then on until a {@link #write} succeeds
   */
  default boolean append(byte[] change) throws IOException {
    return false;
  }

  /**
   * The changes appended to the payload {@link #read} last returned, oldest first; empty when there
   * are none or the store keeps no journal (the default). The client calls it once at start-up,
   * after {@link #read}, and applies the changes in order on top of the payload.
   *
   * <p>Never returns a change whose {@link #append} did not complete (a torn or damaged tail is cut
   * off, and nothing after it is returned), nor changes appended to another payload (a journal left
   * beside a payload written later, or copied in from elsewhere, is discarded).
   *
   * @throws IOException when the journal exists but cannot be read; the client then starts on the
   *     payload alone and writes whole until a {@link #write} succeeds
   */
  default List<byte[]> journal() throws IOException {
    return List.of();
  }

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
