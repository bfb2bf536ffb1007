package dev.configsync.cp;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

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
 * <p>Implementations: {@link InMemoryConfigStore} (lost on restart) and {@link FileConfigStore};
 * {@code configsync-control-plane-etcd} has one shared by several control plane replicas.
 *
 * <p><b>Shared stores.</b> A store that several control planes write (replicas of one control
 * plane) also implements {@link #save(byte[], String, String)} as a compare-and-set, {@link #watch}
 * to hand each replica what the others publish, and {@link #unavailable} to say when it cannot be
 * written. The defaults suit a store with one writer.
 *
 * <p>Threading: the control plane calls {@link #load} once while starting, then {@link #watch}
 * once, and {@link #save} from one thread at a time (publishes are serialized). {@link
 * #unavailable} may be called from any thread. Implementations need not be thread-safe beyond that.
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

  /**
   * As {@link #save(byte[], String)}, but only if the stored configuration is still the one whose
   * hash is {@code expectedPreviousHash} ({@code null}: nothing stored yet). A store that other
   * writers share checks this and the write in one atomic step, so that two publishes that both
   * started from the same configuration cannot silently overwrite each other. The default, for a
   * store with a single writer (the control plane checks its own latest configuration), ignores the
   * expectation.
   *
   * @return the store's revision of this write, comparable with the revisions {@link #watch} hands
   *     over (the control plane never goes back to a lower one); 0 for a store without revisions
   *     (the default)
   * @throws ConfigConflictException when the stored configuration is no longer the expected one;
   *     nothing was saved
   * @throws ConfigOutcomeUnknownException when the write may or may not have been applied (it was
   *     sent, and no answer says which); the control plane does not send it to its nodes, and the
   *     watch hands it over if it turns out applied
   * @throws IOException when the payload could not be made durable; nothing was saved
   */
  default long save(byte[] payload, String hash, @Nullable String expectedPreviousHash)
      throws IOException {
    save(payload, hash);
    return 0;
  }

  /**
   * As {@link #save(byte[], String, String)}, with the change that takes the expected previous
   * configuration to this one, so that a shared store can keep it beside the configuration and hand
   * it to the other writers ({@link Listener#changed(byte[], String, long, byte[])}): they apply it
   * to the configuration they hold instead of decoding and hashing the whole payload again. The
   * store keeps the bytes as they are, and may leave a change out (for example one too large for
   * one write); it never keeps a change without its configuration. The default ignores the change.
   *
   * @param delta the gzip {@code reconfigure_delta} frame from the configuration whose hash is
   *     {@code expectedPreviousHash} to this one (its base hash, target hashes and change set), or
   *     null when there is none
   * @return as {@link #save(byte[], String, String)}
   * @throws IOException as {@link #save(byte[], String, String)}
   */
  default long save(
      byte[] payload, String hash, @Nullable String expectedPreviousHash, byte @Nullable [] delta)
      throws IOException {
    return save(payload, hash, expectedPreviousHash);
  }

  /**
   * The store's revision of the configuration the last {@link #load} returned (comparable with
   * those {@link #save(byte[], String, String)} returns), or 0 when nothing was loaded or the store
   * has no revisions (the default). A store whose revisions survive a restart ({@link
   * FileConfigStore}, a shared store) lets the control plane number the configuration it restores
   * as it was numbered before, so that versions only grow across restarts.
   */
  default long loadedRevision() {
    return 0;
  }

  /**
   * Starts telling {@code listener} of every configuration that another writer saves after the one
   * {@link #load} returned (or the last one this store told of). Called once, after {@link #load}.
   * The store calls the listener from one thread of its own, one call at a time, in the order the
   * configurations were saved; it may skip intermediate versions but never goes back to an older
   * one. It may also hand over this writer's own saves (the control plane ignores a revision at or
   * below the one it serves). The default does nothing: a store with one writer has nothing to
   * tell.
   */
  default void watch(Listener listener) {}

  /**
   * The configurations that were in force, newest first, at most {@code limit} of them, as the
   * store recorded them (so that every writer sharing it answers the same), or empty when the store
   * keeps no history (the default): the control plane then lists those it took since it started.
   * May block for up to the store's request timeout; called from the admin API's read threads.
   *
   * @throws IOException when the store cannot be read now
   */
  default Optional<List<ConfigVersion>> history(int limit) throws IOException {
    return Optional.empty();
  }

  /**
   * Why the store cannot be written now (for example, its cluster is unreachable), or empty when it
   * can. While this is non-empty the control plane reports itself {@code degraded} in {@code GET
   * /status} and keeps serving the configuration it has. Never blocks. The default is always empty.
   */
  default Optional<String> unavailable() {
    return Optional.empty();
  }

  /** Receives configurations that other writers saved in a shared store; see {@link #watch}. */
  @FunctionalInterface
  interface Listener {
    /**
     * A configuration saved in the store, by another writer or by this one (its own save coming
     * back, or a save whose outcome was unknown).
     *
     * @param payload the gzip {@code reconfigure} payload, as {@link #load} would return it
     * @param hash its configuration hash, as saved with it
     * @param revision the store's revision of that write, as {@link #save(byte[], String, String)}
     *     returns them: the control plane takes it only when it is above the revision it serves
     */
    void changed(byte[] payload, String hash, long revision);

    /**
     * As {@link #changed(byte[], String, long)}, with the change its writer saved with it ({@link
     * ConfigStore#save(byte[], String, String, byte[])}), when the store kept one: the gzip {@code
     * reconfigure_delta} frame from the configuration the store held just before this revision. A
     * listener that holds that base configuration may apply the change (checking the target hashes)
     * instead of decoding {@code payload}; on any mismatch it uses {@code payload}. The default
     * ignores the change.
     *
     * @param delta the change to this configuration from the one before it in the store, or null
     */
    default void changed(byte[] payload, String hash, long revision, byte @Nullable [] delta) {
      changed(payload, hash, revision);
    }
  }

  /**
   * Makes a change durable ahead of its whole payload (a write-ahead journal), for a store with a
   * single writer that can keep one: an entity edit is then sent to the nodes that take changes as
   * soon as this returns, and its whole payload follows with {@link #save(byte[], String)} once it
   * is compressed. Changes saved this way and not yet followed by their whole payload must be
   * replayed by {@link #load} (a crash between the two returns the newest configuration, never an
   * older one). A store that cannot keep changes returns -1 (the default): the control plane then
   * saves the whole payload first, as for any publish.
   *
   * @param delta the gzip {@code reconfigure_delta} frame from the configuration saved last ({@code
   *     previousHash}) to this one, with its target hashes; the store must not modify it
   * @param hash the new configuration's hash
   * @param previousHash the hash of the configuration saved last, which the change applies to
   * @return 0 when the change is durable (the store has no revisions); -1 when the store keeps no
   *     changes and nothing was saved
   * @throws IOException when the change could not be made durable; nothing is published
   */
  default long saveChange(byte[] delta, String hash, String previousHash) throws IOException {
    return -1;
  }

  /** Where this store keeps data, for logs and {@code GET /status}. */
  String describe();

  /** Releases the store's resources. The default does nothing. */
  @Override
  default void close() throws IOException {}
}
