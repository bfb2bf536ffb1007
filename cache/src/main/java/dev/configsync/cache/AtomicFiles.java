package dev.configsync.cache;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Durable file operations shared by the stores of this package: replace a file atomically and
 * durably, force a directory, read a file with a size limit.
 */
final class AtomicFiles {
  // Windows cannot open a directory as a channel, so it cannot fsync one (Lucene does the same).
  private static final boolean WINDOWS =
      System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");

  /** Run after a temporary file is durable and before it is renamed over its target. */
  interface BeforeRename {
    void run(Path temp) throws IOException;
  }

  private AtomicFiles() {}

  /**
   * Replaces {@code target} with {@code bytes}: writes a temporary file named {@code .<target
   * name>.<random hex>.tmp} in the target's directory (created new, with {@code attributes}),
   * forces it to disk, runs {@code beforeRename}, renames it atomically over the target and forces
   * the directory. Readers see the old content or the new, never a part. When this throws, the
   * temporary file is gone and the target is intact, except when only the final directory sync
   * failed: the new file is then in place but may not survive a power loss.
   */
  static void write(
      Path target, byte[] bytes, FileAttribute<?>[] attributes, BeforeRename beforeRename)
      throws IOException {
    Path directory = target.toAbsolutePath().getParent();
    if (directory == null) {
      throw new IOException("Cannot write " + target + ": it has no parent directory");
    }
    Path temp = directory.resolve(tempPrefix(target) + randomHex() + ".tmp");
    try {
      try (FileChannel channel = FileChannel.open(temp, Set.of(CREATE_NEW, WRITE), attributes)) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        channel.force(true);
      }
      beforeRename.run(temp);
      Files.move(temp, target, ATOMIC_MOVE, REPLACE_EXISTING);
    } catch (IOException | RuntimeException | Error e) {
      try {
        Files.deleteIfExists(temp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    syncDirectory(directory);
  }

  /** The start of the names of {@link #write}'s temporary files for {@code target}. */
  static String tempPrefix(Path target) {
    return "." + target.getFileName() + ".";
  }

  /** Forces {@code dir}'s entries (a rename, a new file) to disk. A no-op on Windows. */
  static void syncDirectory(Path dir) throws IOException {
    if (WINDOWS) {
      return;
    }
    try (FileChannel channel = FileChannel.open(dir, READ)) {
      channel.force(true);
    }
  }

  /**
   * Returns the bytes of {@code path}, or empty when it does not exist.
   *
   * @throws IOException when it cannot be read, or is larger than {@code limit} bytes (the message
   *     names the file, its size, the limit and {@code remedy})
   */
  static Optional<byte[]> readBounded(Path path, long limit, String remedy) throws IOException {
    FileChannel channel;
    try {
      channel = FileChannel.open(path, READ);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try (channel) {
      long size = channel.size();
      if (size > limit) {
        throw new IOException(
            path + " is " + size + " bytes, more than the limit of " + limit + "; " + remedy);
      }
      ByteBuffer buffer = ByteBuffer.allocate((int) size);
      while (buffer.hasRemaining()) {
        if (channel.read(buffer) < 0) {
          throw new IOException(path + " shrank while being read");
        }
      }
      return Optional.of(buffer.array());
    }
  }

  /** Permissions set atomically at creation, so a file is never more open even briefly. */
  static FileAttribute<?>[] permissions(boolean posix, String perms) {
    return posix
        ? new FileAttribute<?>[] {
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(perms))
        }
        : new FileAttribute<?>[0];
  }

  private static String randomHex() {
    return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
  }
}
