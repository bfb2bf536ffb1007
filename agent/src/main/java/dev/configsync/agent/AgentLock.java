package dev.configsync.agent;

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
 * The lock that says "a process is using this cache directory": an exclusive {@link
 * FileChannel#tryLock() file lock} on {@code <cache-dir>/agent.lock}. A running {@code run} holds
 * it for as long as it runs; {@code load} holds it while it writes the cache directly, and takes it
 * only to find out whether an agent runs (if it gets the lock, none does).
 *
 * <p>The operating system releases the lock when the process dies, however it dies, so a lock file
 * left behind means nothing: only a held lock counts. The file is never deleted (deleting a lock
 * file lets two processes each lock a different file of the same name).
 *
 * <p>File locks belong to the whole JVM, and closing any channel on the file may release all of
 * them, so the directories locked by this JVM are also kept in a set, and a second attempt in the
 * same JVM fails without opening the file.
 */
final class AgentLock implements AutoCloseable {
  /** The lock file's name in the cache directory. */
  static final String FILE_NAME = "agent.lock";

  /** How often {@link #acquire} tries again while another process holds the lock. */
  private static final Duration RETRY = Duration.ofMillis(100);

  private static final Set<Path> HELD_IN_THIS_JVM = ConcurrentHashMap.newKeySet();

  private final Path key;
  private final FileChannel channel;
  private final FileLock lock;
  private final AtomicBoolean closed = new AtomicBoolean();

  private AgentLock(Path key, FileChannel channel, FileLock lock) {
    this.key = key;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Creates {@code cacheDir} (mode 0700) if it is missing, so that the lock file can be created.
   *
   * @throws IOException when the path exists but is not a directory, or cannot be created
   */
  static void createDirectory(Path cacheDir) throws IOException {
    if (Files.isDirectory(cacheDir)) {
      return;
    }
    if (Files.exists(cacheDir)) {
      throw new IOException(cacheDir + " exists but is not a directory");
    }
    boolean posix = cacheDir.getFileSystem().supportedFileAttributeViews().contains("posix");
    FileAttribute<?>[] attributes =
        posix
            ? new FileAttribute<?>[] {
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))
            }
            : new FileAttribute<?>[0];
    Files.createDirectories(cacheDir, attributes);
  }

  /**
   * Takes the lock of {@code cacheDir} (an existing directory) if no process holds it.
   *
   * @return the lock, or null when another process (or another user in this JVM) holds it
   * @throws IOException when the lock file cannot be created or opened
   */
  static @Nullable AgentLock tryAcquire(Path cacheDir) throws IOException {
    Path dir = cacheDir.toRealPath();
    if (!HELD_IN_THIS_JVM.add(dir)) {
      return null;
    }
    boolean done = false;
    try {
      FileChannel channel = FileChannel.open(dir.resolve(FILE_NAME), CREATE, WRITE);
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
        // Who holds it, for people looking; never read by the agent.
        channel.truncate(0);
        channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(UTF_8)));
        done = true;
        return new AgentLock(dir, channel, lock);
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
   * lock (a {@code load} writing the cache holds it for a moment).
   *
   * @return the lock, or null when it was still held after {@code wait}
   * @throws IOException when the lock file cannot be created or opened
   * @throws InterruptedException when interrupted while waiting
   */
  static @Nullable AgentLock acquire(Path cacheDir, Duration wait)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    while (true) {
      AgentLock lock = tryAcquire(cacheDir);
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
