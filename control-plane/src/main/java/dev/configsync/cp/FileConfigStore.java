package dev.configsync.cp;

import dev.configsync.cache.FileSnapshotStore;
import java.io.IOException;
import java.nio.file.Path;
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
 * <p>Thread-safe. One control plane per directory.
 */
public final class FileConfigStore implements ConfigStore {
  private final FileSnapshotStore files;

  private FileConfigStore(FileSnapshotStore files) {
    this.files = files;
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
    return new FileConfigStore(FileSnapshotStore.open(directory, maxBytes));
  }

  /** The file that holds the configuration: {@code <directory>/config.json.gz}. */
  public Path file() {
    return files.file();
  }

  @Override
  public Optional<byte[]> load() throws IOException {
    return files.read();
  }

  @Override
  public void save(byte[] payload, String hash) throws IOException {
    files.write(payload);
  }

  @Override
  public String describe() {
    return "file " + files.file();
  }
}
