package dev.configsync.cp;

import dev.configsync.cache.FileSnapshotStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A {@link ConfigStore} on a local file: {@code <directory>/config.json.gz}, written the same
 * durable way a data plane writes its cache (temporary file, fsync, atomic rename, directory
 * fsync), so a crash at any instant leaves the previous or the new configuration, never a partial
 * one.
 *
 * <p>The file has exactly the format of a data plane's {@code config.json.gz}: a control plane can
 * be recovered by copying the cache of any healthy node into its store directory, and the store's
 * file can seed a node by hand ({@code configsync-agent load}).
 *
 * <p>Entity edits are saved ahead of their whole payload ({@link #saveChange}): their change frames
 * go to {@code config.journal} beside it, in the data plane cache's journal format, and {@link
 * #load} replays them. A journal that belongs to another {@code config.json.gz} (one copied in from
 * a node, say) is discarded, so the copy is what starts.
 *
 * <p>Thread-safe. One control plane per directory.
 */
public final class FileConfigStore implements ConfigStore {
  /** A stored payload or change inflates to at most this many times the payload limit. */
  private static final long INFLATE_RATIO = 64;

  private final FileSnapshotStore files;
  private final long maxBytes;

  private FileConfigStore(FileSnapshotStore files, long maxBytes) {
    this.files = files;
    this.maxBytes = maxBytes;
  }

  /**
   * Opens the store in {@code directory}, creating it (mode 0700) if missing and deleting temporary
   * files left by an interrupted write.
   *
   * @param maxBytes the largest payload read back at start-up; at least the control plane's maximum
   *     payload
   * @throws IOException when the directory cannot be created or written
   */
  public static FileConfigStore open(Path directory, long maxBytes) throws IOException {
    return new FileConfigStore(FileSnapshotStore.open(directory, maxBytes), maxBytes);
  }

  /** The file that holds the configuration: {@code <directory>/config.json.gz}. */
  public Path file() {
    return files.file();
  }

  /**
   * The stored configuration, with the changes saved ahead of it ({@link #saveChange}) replayed on
   * it; a replayed result is written back whole at once, which empties the journal.
   */
  @Override
  public Optional<byte[]> load() throws IOException {
    Optional<byte[]> stored = files.read();
    if (stored.isEmpty()) {
      return stored;
    }
    List<byte[]> changes = files.journal();
    if (changes.isEmpty()) {
      return stored;
    }
    byte[] replayed;
    try {
      replayed = JournalReplay.replay(stored.get(), changes, maxBytes * INFLATE_RATIO, describe());
    } catch (IOException | RuntimeException e) {
      return stored; // the payload itself is damaged: the control plane says so when it reads it
    }
    files.write(replayed);
    return Optional.of(replayed);
  }

  @Override
  public void save(byte[] payload, String hash) throws IOException {
    files.write(payload);
  }

  /**
   * Appends the change to {@code config.journal} beside {@code config.json.gz} (fsync'd, each
   * record checksummed, bound to the payload it follows: the data plane cache's journal format), so
   * that it is durable before the whole payload is compressed; the next {@link #save} empties the
   * journal. Returns -1, saving nothing, when the journal cannot take it now (it is over the size
   * limit, or a write failed and the next whole save has not succeeded yet).
   */
  @Override
  public long saveChange(byte[] delta, String hash, String previousHash) throws IOException {
    return files.append(delta) ? 0 : -1;
  }

  @Override
  public String describe() {
    return "file " + files.file();
  }
}
