package dev.configsync.cli;

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
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * Makes a directory belong to one running process: an exclusive {@link FileChannel#tryLock() file
 * lock} on a lock file in it ({@code agent.lock} in the agent's cache directory, {@code
 * configsync-cp.lock} in the control plane's store), held until {@link #close()}.
 *
 * <p>The operating system releases the lock when the process dies, however it dies, so a lock file
 * left behind means nothing: only a held lock counts. The file is never deleted (deleting a lock
 * file lets two processes each lock a different file of the same name). It holds the holder's pid,
 * for people looking.
 *
 * <p>File locks belong to the whole JVM, and closing any channel on the file may release all of
 * them, so the directories locked by this JVM are also kept in a set, and a second attempt in the
 * same JVM fails without opening the file. Thread-safe.
 */
public final class DirectoryLock implements AutoCloseable {
  /** How often {@link #acquire} tries again while another process holds the lock. */
  private static final Duration RETRY = Duration.ofMillis(100);

  private static final Set<Path> HELD_IN_THIS_JVM = ConcurrentHashMap.newKeySet();

  private final Path key;
  private final FileChannel channel;
  private final FileLock lock;
  private final AtomicBoolean closed = new AtomicBoolean();

  private DirectoryLock(Path key, FileChannel channel, FileLock lock) {
    this.key = key;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Creates {@code directory} (mode 0700) if it is missing, so that the lock file can be created.
   *
   * @param directory the directory to lock later
   * @throws IOException when the path exists but is not a directory, or cannot be created
   */
  public static void createDirectory(Path directory) throws IOException {
    if (Files.isDirectory(directory)) {
      return;
    }
    if (Files.exists(directory)) {
      throw new IOException(directory + " exists but is not a directory");
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

  /**
   * Takes the lock of {@code directory} (an existing directory) if no process holds it.
   *
   * @param directory the directory
   * @param fileName the lock file's name in it
   * @return the lock, or null when another process (or another user in this JVM) holds it
   * @throws IOException when the lock file cannot be created or opened
   */
  public static @Nullable DirectoryLock tryAcquire(Path directory, String fileName)
      throws IOException {
    Path dir = directory.toRealPath();
    if (!HELD_IN_THIS_JVM.add(dir)) {
      return null;
    }
    boolean done = false;
    try {
      FileChannel channel = FileChannel.open(dir.resolve(fileName), CREATE, WRITE);
      try {
        FileLock lock;
        try {
          lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
          lock = null;
        }
        if (lock == null) {
          return null;
        }
        // Who holds it, for people looking; never read by the commands.
        channel.truncate(0);
        channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(UTF_8)));
        done = true;
        return new DirectoryLock(dir, channel, lock);
      } finally {
        if (!done) {
          channel.close();
        }
      }
    } finally {
      if (!done) {
        HELD_IN_THIS_JVM.remove(dir);
      }
    }
  }

  /**
   * As {@link #tryAcquire}, trying again for up to {@code wait} while another process holds the
   * lock (the agent's {@code load} writing the cache holds it for a moment).
   *
   * @param directory the directory
   * @param fileName the lock file's name in it
   * @param wait how long to keep trying
   * @return the lock, or null when it was still held after {@code wait}
   * @throws IOException when the lock file cannot be created or opened
   * @throws InterruptedException when interrupted while waiting
   */
  public static @Nullable DirectoryLock acquire(Path directory, String fileName, Duration wait)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    while (true) {
      DirectoryLock lock = tryAcquire(directory, fileName);
      if (lock != null || System.nanoTime() - deadline >= 0) {
        return lock;
      }
      Thread.sleep(RETRY.toMillis());
    }
  }

  /** Releases the lock. The file stays. Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      lock.release();
    } catch (IOException e) {
      // Closing the channel releases it too.
    }
    try {
      channel.close();
    } catch (IOException e) {
      // Nothing more can be done; the lock goes with the process at the latest.
    } finally {
      HELD_IN_THIS_JVM.remove(key);
    }
  }
}
