package dev.configsync.cp;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import dev.configsync.cache.FileSnapshotStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

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
 * <p><b>Versions.</b> Each save is numbered one above the last ({@link #save(byte[], String,
 * String)} returns the number, the control plane's {@code version}). The number of the whole
 * payload is kept in {@code <directory>/config.version}, written durably before the payload is
 * renamed into place; a change saved ahead of its whole payload ({@link #saveChange}) is numbered
 * by its place in the journal: the {@code n}th record after the payload has the payload's number
 * plus {@code n}, so that saving it costs the journal's one fsync and nothing else. The numbers
 * only grow across restarts: a crash between the number and the payload's rename leaves the number
 * ahead of the payload (its journal, bound to the payload before, is then counted on top), which
 * costs a gap; a record torn by a crash was never answered, so its number was never used. A
 * directory without {@code config.version} (written by an older version, or copied from a node)
 * numbers from 1.
 *
 * <p>Entity edits are saved ahead of their whole payload ({@link #saveChange}): their change frames
 * go to {@code config.journal} beside it, in the data plane cache's journal format, and {@link
 * #load} replays them. Each change costs one append; the journal is the durable copy until the
 * control plane saves the whole payload of the newest change ({@link #save(byte[], String)}), which
 * it does when the journal is due to be emptied (every 64 changes, or once they weigh a quarter of
 * the whole frame and at least 64 KiB), not after every edit. A journal that belongs to another
 * {@code config.json.gz} (one copied in from a node, say) is discarded, so the copy is what starts.
 *
 * <p>Thread-safe. One control plane per directory.
 */
public final class FileConfigStore implements ConfigStore {
  /** The file, beside {@code config.json.gz}, that holds the number of the last save. */
  static final String VERSION_FILE = "config.version";

  /** A stored payload or change inflates to at most this many times the payload limit. */
  private static final long INFLATE_RATIO = 64;

  private final FileSnapshotStore files;
  private final Path versionFile;
  private final long maxBytes;
  // All guarded by this:
  private long version; // the number of the last save or change (or of the stored one)
  private long payloadVersion; // the number of config.json.gz: what config.version holds
  private long loadedRevision;
  // The configurations saved as changes (the newest last) since the whole payload was written: the
  // journal's records, numbered from payloadVersion.
  private final List<String> journaled = new ArrayList<>();

  private FileConfigStore(FileSnapshotStore files, Path versionFile, long version, long maxBytes) {
    this.files = files;
    this.versionFile = versionFile;
    this.version = version;
    this.payloadVersion = version;
    this.maxBytes = maxBytes;
  }

  /**
   * Opens the store in {@code directory}, creating it (mode 0700) if missing and deleting temporary
   * files left by an interrupted write.
   *
   * @param maxBytes the largest payload read back at start-up; at least the control plane's maximum
   *     payload
   * @throws IOException when the directory cannot be created or written, or its {@code
   *     config.version} is damaged
   */
  public static FileConfigStore open(Path directory, long maxBytes) throws IOException {
    FileSnapshotStore files = FileSnapshotStore.open(directory, maxBytes);
    Path versionFile = files.file().resolveSibling(VERSION_FILE);
    deleteTemporaryFiles(versionFile);
    return new FileConfigStore(files, versionFile, readVersion(versionFile), maxBytes);
  }

  /** The file that holds the configuration: {@code <directory>/config.json.gz}. */
  public Path file() {
    return files.file();
  }

  /**
   * The stored configuration, with the changes saved ahead of it ({@link #saveChange}) replayed on
   * it; a replayed result is written back whole at once (its number first), which empties the
   * journal. Numbered as the newest change in the journal, or as the payload when there is none.
   */
  @Override
  public synchronized Optional<byte[]> load() throws IOException {
    Optional<byte[]> stored = files.read();
    if (stored.isEmpty()) {
      return stored;
    }
    List<byte[]> changes = files.journal();
    // Every good record was numbered, replayed or not: the count keeps the numbers growing.
    version = Math.max(version, payloadVersion + changes.size());
    journaled.clear();
    byte[] result = stored.get();
    if (!changes.isEmpty()) {
      byte[] replayed = null;
      try {
        replayed = JournalReplay.replay(result, changes, maxBytes * INFLATE_RATIO, describe());
      } catch (IOException | RuntimeException e) {
        // the payload itself is damaged: the control plane says so when it reads it
      }
      if (replayed != null) {
        result = replayed;
        try {
          writeWhole(replayed, version);
        } catch (IOException e) {
          // The journal stays and is replayed again next time; appends wait for a whole save.
        }
      }
    }
    loadedRevision = version;
    return Optional.of(result);
  }

  /** The number of the stored configuration when {@link #load} read it (0 when none). */
  @Override
  public synchronized long loadedRevision() {
    return loadedRevision;
  }

  /**
   * Saves the whole payload of a configuration saved as a change ({@link #saveChange}) before; it
   * keeps that change's number and empties the journal. That of an older one is not written (newer
   * changes follow it in the journal). Any other configuration is saved and numbered as by {@link
   * #save(byte[], String, String)}.
   */
  @Override
  public void save(byte[] payload, String hash) throws IOException {
    synchronized (this) {
      int at = journaled.lastIndexOf(hash);
      if (at >= 0) {
        if (at == journaled.size() - 1) {
          writeWhole(payload, version);
        }
        return;
      }
    }
    long unused = save(payload, hash, null);
  }

  /**
   * Saves the configuration durably, numbered one above the last save (also across restarts); the
   * expectation is not checked (one writer).
   *
   * @return the number of this save
   */
  @Override
  public synchronized long save(byte[] payload, String hash, @Nullable String expectedPreviousHash)
      throws IOException {
    long next = version + 1;
    version = next; // taken even if the write fails: never handed out twice
    writeWhole(payload, next);
    return next;
  }

  /**
   * Appends the change to {@code config.journal} beside {@code config.json.gz} (fsync'd, each
   * record checksummed, bound to the payload it follows: the data plane cache's journal format), so
   * that it is durable before the whole payload is compressed. Returns -1, saving nothing, when the
   * journal cannot take it now (it is over the size limit, or a write failed and the next whole
   * save has not succeeded yet). The change is numbered one above the last save, by its place in
   * the journal (see the class comment): the append is its only write.
   *
   * @return the number of this change, or -1
   */
  @Override
  public synchronized long saveChange(byte[] delta, String hash, String previousHash)
      throws IOException {
    long next = version + 1;
    if (next != payloadVersion + journaled.size() + 1) {
      return -1; // a failed write took a number: only a whole save (with its number) goes on
    }
    boolean appended;
    try {
      appended = files.append(delta);
    } catch (IOException | RuntimeException e) {
      version = next; // the record may be on disk: its number is taken
      throw e;
    }
    if (!appended) {
      return -1;
    }
    version = next;
    journaled.add(hash);
    return next;
  }

  /**
   * Writes {@code payload} whole as configuration number {@code number}: the number first (a crash
   * before the payload's rename leaves a gap), then the payload, which empties the journal.
   */
  private void writeWhole(byte[] payload, long number) throws IOException {
    journaled.clear();
    writeVersion(versionFile, number);
    payloadVersion = number;
    files.write(payload);
  }

  @Override
  public String describe() {
    return "file " + files.file();
  }

  // ---- config.version --------------------------------------------------------------------------

  private static long readVersion(Path file) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.US_ASCII).trim();
    } catch (NoSuchFileException e) {
      return 0;
    }
    try {
      long v = Long.parseLong(text);
      if (v < 0) {
        throw new NumberFormatException("negative");
      }
      return v;
    } catch (NumberFormatException e) {
      throw new IOException(
          file
              + " does not hold a version number ("
              + e.getMessage()
              + "); write the last version the admin API answered into it, or delete it to"
              + " number from 1 again",
          e);
    }
  }

  /** Replaces the version file durably: temporary file, fsync, atomic rename, directory fsync. */
  private static void writeVersion(Path file, long v) throws IOException {
    Path directory = directoryOf(file);
    Path temp = directory.resolve(tempName(file, System.nanoTime()));
    try {
      try (FileChannel channel = FileChannel.open(temp, Set.of(CREATE_NEW, WRITE))) {
        ByteBuffer buffer = ByteBuffer.wrap((v + "\n").getBytes(StandardCharsets.US_ASCII));
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        channel.force(true);
      }
      Files.move(temp, file, ATOMIC_MOVE, REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(temp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    try (FileChannel dir = FileChannel.open(directory, READ)) {
      dir.force(true);
    } catch (IOException e) {
      if (!System.getProperty("os.name", "").startsWith("Windows")) {
        throw e; // Windows cannot open a directory to force it
      }
    }
  }

  private static Path directoryOf(Path file) throws IOException {
    Path directory = file.toAbsolutePath().getParent();
    if (directory == null) {
      throw new IOException(file + " has no parent directory");
    }
    return directory;
  }

  private static String tempName(Path file, long unique) {
    return "." + file.getFileName() + "." + Long.toHexString(unique) + ".tmp";
  }

  /** Temporary version files left by a write that a crash interrupted. */
  private static void deleteTemporaryFiles(Path file) throws IOException {
    String start = "." + file.getFileName() + ".";
    try (var entries = Files.newDirectoryStream(directoryOf(file), start + "*.tmp")) {
      for (Path temp : entries) {
        Files.deleteIfExists(temp);
      }
    }
  }
}
