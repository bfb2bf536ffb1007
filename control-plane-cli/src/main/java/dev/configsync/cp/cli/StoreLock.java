package dev.configsync.cp.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Makes a {@code --store} directory belong to one running {@code configsync-cp}: an exclusive
 * {@link FileChannel#tryLock() file lock} on {@code <store>/configsync-cp.lock}, held until the
 * command stops. Two control planes writing one store would each overwrite the other's
 * configuration, and after a restart nodes would get whichever wrote last.
 *
 * <p>The operating system releases the lock when the process dies, however it dies, so a lock file
 * left behind means nothing and is never deleted. File locks belong to the whole JVM, so the
 * directories locked by this JVM are also remembered, and a second attempt in the same JVM fails
 * without touching the file.
 */
final class StoreLock implements AutoCloseable {
  /** The lock file's name in the store directory. */
  static final String FILE_NAME = "configsync-cp.lock";

  private static final Set<Path> HELD_IN_THIS_JVM = ConcurrentHashMap.newKeySet();

  private final Path key;
  private final FileChannel channel;

  private StoreLock(Path key, FileChannel channel) {
    this.key = key;
    this.channel = channel;
  }

  /**
   * Creates {@code directory} (mode 0700) if it is missing and locks it.
   *
   * @return the lock, or null when another process (or this JVM) holds it
   * @throws IOException when the directory or the lock file cannot be created
   */
  static @Nullable StoreLock tryLock(Path directory) throws IOException {
    if (!Files.isDirectory(directory)) {
      if (Files.exists(directory)) {
        throw new IOException("it exists but is not a directory");
      }
      boolean posix = directory.getFileSystem().supportedFileAttributeViews().contains("posix");
      FileAttribute<?>[] attributes =
          posix
              ? new FileAttribute<?>[] {
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))
              }
              : new FileAttribute<?>[0];
      Files.createDirectories(directory, attributes);
    }
    Path key = directory.toRealPath();
    if (!HELD_IN_THIS_JVM.add(key)) {
      return null;
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(key.resolve(FILE_NAME), CREATE, WRITE);
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        channel.close();
        HELD_IN_THIS_JVM.remove(key);
        return null;
      }
      // For people looking; only the held lock counts.
      channel.truncate(0);
      channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(UTF_8)));
      return new StoreLock(key, channel);
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      HELD_IN_THIS_JVM.remove(key);
      throw e;
    }
  }

  /** Releases the lock (closing the channel releases it). Idempotent. */
  @Override
  public void close() {
    if (!channel.isOpen()) {
      return;
    }
    try {
      channel.close();
    } catch (IOException e) {
      // The lock goes with the process anyway.
    } finally {
      HELD_IN_THIS_JVM.remove(key);
    }
  }
}
