package dev.configsync.cache;

import dev.configsync.AtRestEncryption;
import dev.configsync.DecryptionException;
import dev.configsync.internal.StoredPayloads;
import dev.configsync.spi.BackupStore;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BackupStore} in a directory, typically a share that every node mounts (NFS, SMB, a
 * Kubernetes ReadWriteMany volume). The copy for version {@code V} is {@code
 * <root>/<V>/config.json.gz}, for example {@code /mnt/configsync-backup/3.9/config.json.gz}: the
 * gzip {@code reconfigure} payload, byte for byte as the control plane sent it (so {@code zcat}
 * shows it, and {@code ConfigSyncClient.loadManual} takes it).
 *
 * <p>Writes are atomic and durable: {@link #put} writes a temporary file {@code
 * .config.json.gz.<random hex>.tmp} in the version's directory, forces it to disk, renames it over
 * {@code config.json.gz} and forces the directory; a reader on any node sees the previous copy or
 * the new one, never a part (on file systems where rename is atomic, which includes NFS). Several
 * nodes may export to one root at once: the last rename wins. Files are created with mode 0640 and
 * directories with 0750 where the file system is POSIX (less any umask), so nodes that share a
 * group can read each other's copies while others cannot: a configuration may hold credentials.
 *
 * <p>Encryption at rest (optional, {@link #open(Path, AtRestEncryption)}): copies are then written
 * encrypted with the current key ({@link AtRestEncryption}: AES-256-GCM, the key id in a header),
 * and read with the current or an old key; a copy that cannot be decrypted (unknown key, altered,
 * truncated) makes {@link #get} throw a {@link DecryptionException}, which the client reports as a
 * failed import. An unencrypted copy is still accepted (nodes that export without a key may share
 * the root during a migration; the client checks every imported copy against its hash), and is
 * replaced by an encrypted one at the next export of a node that has the key. Without encryption,
 * an encrypted copy is refused with a message that says no key is configured. Every node that
 * imports needs the keys the exporting nodes write with.
 *
 * <p>Version strings are checked (ASCII digits and dots, such as {@code 3.9}), so that no key can
 * name a path outside the root. {@link #get} reads at most {@value #MAX_BYTES} bytes.
 *
 * <p>Thread-safe; instances on one root, in one process or in many, may be used at the same time.
 */
public final class DirectoryBackupStore implements BackupStore {
  /** The largest copy {@link #get} reads (and {@link #put} writes): 64 MiB. */
  public static final long MAX_BYTES = 64L * 1024 * 1024;

  /** The name of the copy in each version's directory. */
  public static final String FILE_NAME = "config.json.gz";

  private static final Logger log = LoggerFactory.getLogger(DirectoryBackupStore.class);

  /** Temporary files older than this were left by a crash, not by a write under way. */
  private static final Duration STALE_TEMP = Duration.ofHours(1);

  private final Path root;
  private final FileAttribute<?>[] fileMode;
  private final FileAttribute<?>[] directoryMode;
  private final AtomicFiles.BeforeRename beforeRename;
  private final @Nullable AtRestEncryption encryption;

  private DirectoryBackupStore(
      Path root,
      boolean posix,
      AtomicFiles.BeforeRename beforeRename,
      @Nullable AtRestEncryption encryption) {
    this.root = root;
    this.fileMode = AtomicFiles.permissions(posix, "rw-r-----");
    this.directoryMode = AtomicFiles.permissions(posix, "rwxr-x---");
    this.beforeRename = beforeRename;
    this.encryption = encryption;
  }

  /**
   * Opens the store rooted at {@code root}, creating that directory when it is missing, and deletes
   * temporary files that a crashed write left there more than an hour ago (quietly skipping that on
   * a read-only share, which is fine for a node that only imports).
   *
   * @throws IOException when {@code root} exists but is not a directory, or cannot be created
   */
  public static DirectoryBackupStore open(Path root) throws IOException {
    return open(root, temp -> {}, null);
  }

  /**
   * Opens the store as {@link #open(Path)} does, with copies encrypted by {@code encryption} (see
   * the class comment).
   *
   * @throws IOException when {@code root} exists but is not a directory, or cannot be created
   */
  public static DirectoryBackupStore open(Path root, AtRestEncryption encryption)
      throws IOException {
    return open(root, temp -> {}, Objects.requireNonNull(encryption, "encryption"));
  }

  static DirectoryBackupStore open(
      Path root, AtomicFiles.BeforeRename beforeRename, @Nullable AtRestEncryption encryption)
      throws IOException {
    Path dir = root.toAbsolutePath().normalize();
    boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
    if (!Files.isDirectory(dir)) {
      if (Files.exists(dir)) {
        throw new IOException(
            "Backup directory " + dir + " exists but is not a directory; choose another path");
      }
      try {
        Files.createDirectories(dir, AtomicFiles.permissions(posix, "rwxr-x---"));
      } catch (IOException e) {
        throw new IOException("Cannot create backup directory " + dir + ": " + e, e);
      }
      Path parent = dir.getParent();
      if (parent != null) {
        AtomicFiles.syncDirectory(parent);
      }
    }
    DirectoryBackupStore store = new DirectoryBackupStore(dir, posix, beforeRename, encryption);
    store.deleteStaleTemporaryFiles();
    return store;
  }

  /**
   * Where the copy for {@code version} is: {@code <root>/<version>/config.json.gz}.
   *
   * @throws IllegalArgumentException when {@code version} is not digits separated by dots
   */
  public Path file(String version) {
    BackupStore.requireVersion(version);
    Path file = root.resolve(version).resolve(FILE_NAME).normalize();
    if (!file.startsWith(root)) { // cannot happen with the pattern above; kept as a last guard
      throw new IllegalArgumentException("backup version " + version + " escapes " + root);
    }
    return file;
  }

  /**
   * Replaces the copy for {@code version} atomically and durably (see the class comment), creating
   * the version's directory when needed; encrypted with the current key when the store has
   * encryption.
   *
   * @throws IllegalArgumentException when {@code version} is not digits separated by dots
   * @throws IOException when the payload is over {@value #MAX_BYTES} bytes or cannot be stored; the
   *     message names the file
   */
  @Override
  public void put(String version, byte[] payload) throws IOException {
    Path target = file(version);
    if (payload.length > MAX_BYTES) {
      throw new IOException(
          "Refusing to store a "
              + payload.length
              + "-byte backup in "
              + target
              + ": the limit is "
              + MAX_BYTES);
    }
    try {
      Path dir = target.getParent();
      if (dir != null && !Files.isDirectory(dir)) {
        Files.createDirectories(dir, directoryMode);
        AtomicFiles.syncDirectory(root);
      }
      AtomicFiles.write(target, StoredPayloads.seal(encryption, payload), fileMode, beforeRename);
    } catch (IOException e) {
      throw new IOException("Cannot store the backup copy " + target + ": " + describe(e), e);
    }
  }

  /**
   * Returns the copy for {@code version}, byte for byte as given to {@link #put} (decrypted when it
   * is encrypted), or empty when there is none.
   *
   * @throws IllegalArgumentException when {@code version} is not digits separated by dots
   * @throws DecryptionException when the copy cannot be decrypted (see the class comment); the
   *     message names the file and the key id
   * @throws IOException when the copy cannot be read or is over {@value #MAX_BYTES} bytes; the
   *     message names the file
   */
  @Override
  public Optional<byte[]> get(String version) throws IOException {
    Path target = file(version);
    Optional<byte[]> stored;
    try {
      stored =
          AtomicFiles.readBounded(
              target,
              MAX_BYTES + (encryption == null ? 0 : AtRestEncryption.OVERHEAD),
              "that is not a configsync backup; delete or replace it");
    } catch (IOException e) {
      throw new IOException("Cannot read the backup copy " + target + ": " + describe(e), e);
    }
    if (stored.isEmpty()) {
      return stored;
    }
    StoredPayloads.Opened opened =
        StoredPayloads.open(encryption, stored.get(), "the backup copy " + target);
    if (encryption != null && opened.stale() != null) {
      log.warn(
          "the backup copy {} is {}; it is used all the same (its hash is checked), and an export"
              + " by a node with the current key id {} replaces it",
          target,
          opened.stale(),
          encryption.keyId());
    }
    return Optional.of(opened.payload());
  }

  /** The absolute path of the root directory. */
  @Override
  public String describe() {
    return root.toString();
  }

  private void deleteStaleTemporaryFiles() {
    Instant staleBefore = Instant.now().minus(STALE_TEMP);
    String glob = AtomicFiles.tempPrefix(Path.of(FILE_NAME)) + "*.tmp";
    int deleted = 0;
    try (DirectoryStream<Path> versions = Files.newDirectoryStream(root, Files::isDirectory)) {
      for (Path dir : versions) {
        if (!BackupStore.isValidVersion(dir.getFileName().toString())) {
          continue;
        }
        try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, glob)) {
          for (Path temp : temps) {
            FileTime modified = Files.getLastModifiedTime(temp);
            if (modified.toInstant().isBefore(staleBefore) && Files.deleteIfExists(temp)) {
              deleted++;
            }
          }
        }
      }
    } catch (IOException e) {
      log.debug("Could not delete stale temporary files in {}: {}", root, e.toString());
    }
    if (deleted > 0) {
      log.info("Deleted {} temporary file(s) left by interrupted backups in {}", deleted, root);
    }
  }

  /** The message of a plain IOException; the type too for the others (AccessDenied...). */
  private static String describe(IOException e) {
    String message = e.getMessage();
    return e.getClass() == IOException.class && message != null ? message : e.toString();
  }
}
