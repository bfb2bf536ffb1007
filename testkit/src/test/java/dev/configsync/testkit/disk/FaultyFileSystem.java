package dev.configsync.testkit.disk;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.ProviderMismatchException;
import java.nio.file.StandardOpenOption;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.spi.FileSystemProvider;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The default file system with faults on demand: a disk that fills up, an fsync or a rename that
 * fails, an fsync that hangs. Code under test gets a {@link #path(Path) path} of this file system
 * and needs no seam of its own: {@code Files} and {@code FileChannel} dispatch to this file
 * system's provider, which does the real work on the real files and fails where told to, with the
 * messages Linux gives.
 *
 * <p>Only what a file store needs is wrapped: paths, file channels (and byte channels, as file
 * channels), directory streams, attributes, create, delete, copy, move. Watch services, file
 * stores, {@code Path.toFile} and {@code Path.toUri} round trips are not supported.
 *
 * <p>Thread-safe.
 */
final class FaultyFileSystem extends FileSystem {
  /** Operations that can be made to fail. */
  enum Fault {
    /** Creating a file fails: no free inodes ({@code ENOSPC}). */
    CREATE_FILE("No space left on device"),
    /**
     * Forcing a file to disk fails ({@code EIO}): how a write-back error (delayed allocation on a
     * full disk, a failing device) reaches the program.
     */
    FORCE_FILE("Input/output error"),
    /** Renaming fails: the directory cannot grow ({@code ENOSPC}). */
    RENAME("No space left on device"),
    /** Forcing a directory to disk fails ({@code EIO}). */
    FORCE_DIRECTORY("Input/output error");

    final String message;

    Fault(String message) {
      this.message = message;
    }
  }

  /** The message of {@code ENOSPC}, as the JDK reports it on Linux. */
  static final String NO_SPACE = "No space left on device";

  private final FileSystem real = FileSystems.getDefault();
  private final Provider provider = new Provider();
  private final AtomicLong spaceLeft = new AtomicLong(Long.MAX_VALUE);
  private final Set<Fault> faults = ConcurrentHashMap.newKeySet();
  private final AtomicInteger openChannels = new AtomicInteger();
  private final List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile CountDownLatch hang = new CountDownLatch(0);

  /** The path of this file system for a path of the default one. */
  Path path(Path realPath) {
    if (realPath instanceof FaultyPath) {
      throw new IllegalArgumentException("already a faulty path: " + realPath);
    }
    return new FaultyPath(this, realPath);
  }

  /**
   * How many more bytes writes may add, in all, before they fail with {@code ENOSPC}; a write that
   * does not fit writes what fits first, as a real write does. {@link Long#MAX_VALUE}: unlimited.
   * Deleting files gives nothing back; set it again when space "returns".
   */
  void spaceLeft(long bytes) {
    spaceLeft.set(bytes);
  }

  /** Makes {@code fault} happen on every such operation from now on. */
  void fail(Fault fault) {
    faults.add(fault);
  }

  /**
   * Makes every fsync of a file block (a hung disk) until {@link #heal()}; the fsync then goes
   * ahead.
   */
  void hangFileForces() {
    hang = new CountDownLatch(1);
  }

  /** Stops every fault, gives unlimited space again and releases hung fsyncs. */
  void heal() {
    faults.clear();
    spaceLeft.set(Long.MAX_VALUE);
    hang.countDown();
  }

  /** File channels opened through this file system and not closed yet. */
  int openChannels() {
    return openChannels.get();
  }

  /** One line per fault injected so far, oldest first. */
  List<String> failures() {
    return List.copyOf(failures);
  }

  private void maybeFail(Fault fault, Path path) throws IOException {
    if (faults.contains(fault)) {
      failures.add(fault + " " + path);
      throw new IOException(fault.message);
    }
  }

  private static Path unwrap(Path path) {
    if (path instanceof FaultyPath p) {
      return p.real;
    }
    throw new ProviderMismatchException("not a path of the faulty file system: " + path);
  }

  // ---- FileSystem -----------------------------------------------------------------------------

  @Override
  public FileSystemProvider provider() {
    return provider;
  }

  @Override
  public void close() {
    throw new UnsupportedOperationException("the faulty file system wraps the default one");
  }

  @Override
  public boolean isOpen() {
    return true;
  }

  @Override
  public boolean isReadOnly() {
    return false;
  }

  @Override
  public String getSeparator() {
    return real.getSeparator();
  }

  @Override
  public Iterable<Path> getRootDirectories() {
    List<Path> roots = new ArrayList<>();
    real.getRootDirectories().forEach(r -> roots.add(path(r)));
    return roots;
  }

  @Override
  public Iterable<FileStore> getFileStores() {
    return real.getFileStores();
  }

  @Override
  public Set<String> supportedFileAttributeViews() {
    return real.supportedFileAttributeViews();
  }

  @Override
  public Path getPath(String first, String... more) {
    return path(real.getPath(first, more));
  }

  @Override
  public PathMatcher getPathMatcher(String syntaxAndPattern) {
    PathMatcher matcher = real.getPathMatcher(syntaxAndPattern);
    return p -> matcher.matches(unwrap(p));
  }

  @Override
  public UserPrincipalLookupService getUserPrincipalLookupService() {
    return real.getUserPrincipalLookupService();
  }

  @Override
  public WatchService newWatchService() {
    throw new UnsupportedOperationException("no watch service on the faulty file system");
  }

  // ---- Provider -------------------------------------------------------------------------------

  private final class Provider extends FileSystemProvider {
    private final FileSystemProvider delegate = real.provider();

    @Override
    public String getScheme() {
      return "faulty";
    }

    @Override
    public FileSystem newFileSystem(URI uri, Map<String, ?> env) {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileSystem getFileSystem(URI uri) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Path getPath(URI uri) {
      throw new UnsupportedOperationException();
    }

    @Override
    public FileChannel newFileChannel(
        Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
        throws IOException {
      Path target = unwrap(path);
      boolean creates =
          options.contains(StandardOpenOption.CREATE_NEW)
              || (options.contains(StandardOpenOption.CREATE) && !Files.exists(target));
      if (creates) {
        maybeFail(Fault.CREATE_FILE, path);
      }
      boolean directory = Files.isDirectory(target);
      FileChannel channel = delegate.newFileChannel(target, options, attrs);
      openChannels.incrementAndGet();
      return new Channel(channel, path, directory);
    }

    @Override
    public SeekableByteChannel newByteChannel(
        Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
        throws IOException {
      return newFileChannel(path, options, attrs);
    }

    @Override
    public DirectoryStream<Path> newDirectoryStream(
        Path dir, DirectoryStream.Filter<? super Path> filter) throws IOException {
      DirectoryStream<Path> stream =
          delegate.newDirectoryStream(unwrap(dir), entry -> filter.accept(path(entry)));
      return new DirectoryStream<>() {
        @Override
        public Iterator<Path> iterator() {
          Iterator<Path> it = stream.iterator();
          return new Iterator<>() {
            @Override
            public boolean hasNext() {
              return it.hasNext();
            }

            @Override
            public Path next() {
              return path(it.next());
            }
          };
        }

        @Override
        public void close() throws IOException {
          stream.close();
        }
      };
    }

    @Override
    public void createDirectory(Path dir, FileAttribute<?>... attrs) throws IOException {
      maybeFail(Fault.CREATE_FILE, dir);
      delegate.createDirectory(unwrap(dir), attrs);
    }

    @Override
    public void delete(Path path) throws IOException {
      delegate.delete(unwrap(path));
    }

    @Override
    public void copy(Path source, Path target, CopyOption... options) throws IOException {
      maybeFail(Fault.CREATE_FILE, target);
      delegate.copy(unwrap(source), unwrap(target), options);
    }

    @Override
    public void move(Path source, Path target, CopyOption... options) throws IOException {
      maybeFail(Fault.RENAME, source);
      delegate.move(unwrap(source), unwrap(target), options);
    }

    @Override
    public boolean isSameFile(Path path, Path path2) throws IOException {
      return delegate.isSameFile(unwrap(path), unwrap(path2));
    }

    @Override
    public boolean isHidden(Path path) throws IOException {
      return delegate.isHidden(unwrap(path));
    }

    @Override
    public FileStore getFileStore(Path path) throws IOException {
      return delegate.getFileStore(unwrap(path));
    }

    @Override
    public void checkAccess(Path path, AccessMode... modes) throws IOException {
      delegate.checkAccess(unwrap(path), modes);
    }

    @Override
    public <V extends FileAttributeView> V getFileAttributeView(
        Path path, Class<V> type, LinkOption... options) {
      return delegate.getFileAttributeView(unwrap(path), type, options);
    }

    @Override
    public <A extends BasicFileAttributes> A readAttributes(
        Path path, Class<A> type, LinkOption... options) throws IOException {
      return delegate.readAttributes(unwrap(path), type, options);
    }

    @Override
    public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options)
        throws IOException {
      return delegate.readAttributes(unwrap(path), attributes, options);
    }

    @Override
    public void setAttribute(Path path, String attribute, Object value, LinkOption... options)
        throws IOException {
      delegate.setAttribute(unwrap(path), attribute, value, options);
    }
  }

  // ---- FileChannel ----------------------------------------------------------------------------

  /** A real channel whose writes take from the space left and whose force may fail. */
  private final class Channel extends FileChannel {
    private final FileChannel channel;
    private final Path path;
    private final boolean directory;

    Channel(FileChannel channel, Path path, boolean directory) {
      this.channel = channel;
      this.path = path;
      this.directory = directory;
    }

    /** Bytes of {@code wanted} that fit; throws {@code ENOSPC} when none does. */
    private int reserve(int wanted) throws IOException {
      while (true) {
        long left = spaceLeft.get();
        if (left == Long.MAX_VALUE || wanted == 0) {
          return wanted;
        }
        if (left == 0) {
          failures.add("ENOSPC " + path);
          throw new IOException(NO_SPACE);
        }
        int granted = (int) Math.min(wanted, left);
        if (spaceLeft.compareAndSet(left, left - granted)) {
          return granted;
        }
      }
    }

    private int write(ByteBuffer src, WriteCall call) throws IOException {
      int granted = reserve(src.remaining());
      int limit = src.limit();
      src.limit(src.position() + granted);
      try {
        return call.write(src);
      } finally {
        src.limit(limit);
      }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      return write(src, channel::write);
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
      return write(src, b -> channel.write(b, position));
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      long written = 0;
      for (int i = offset; i < offset + length; i++) {
        if (srcs[i].hasRemaining()) {
          int n;
          try {
            n = write(srcs[i]);
          } catch (IOException e) {
            if (written > 0) {
              return written; // a short write first, as write(2) does; the next call fails
            }
            throw e;
          }
          written += n;
          if (srcs[i].hasRemaining()) {
            break;
          }
        }
      }
      return written;
    }

    @Override
    public void force(boolean metaData) throws IOException {
      maybeFail(directory ? Fault.FORCE_DIRECTORY : Fault.FORCE_FILE, path);
      if (!directory) {
        try {
          hang.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted during a hung fsync of " + path);
        }
      }
      channel.force(metaData);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return channel.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return channel.read(dsts, offset, length);
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
      return channel.read(dst, position);
    }

    @Override
    public long position() throws IOException {
      return channel.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
      channel.position(newPosition);
      return this;
    }

    @Override
    public long size() throws IOException {
      return channel.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
      channel.truncate(size);
      return this;
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) {
      throw new UnsupportedOperationException("transferTo on the faulty file system");
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) {
      throw new UnsupportedOperationException("transferFrom on the faulty file system");
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) {
      throw new UnsupportedOperationException("map on the faulty file system");
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
      return channel.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
      return channel.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
      try {
        channel.close();
      } finally {
        openChannels.decrementAndGet();
      }
    }
  }

  private interface WriteCall {
    int write(ByteBuffer buffer) throws IOException;
  }

  // ---- Path -----------------------------------------------------------------------------------

  /** A path of the default file system, seen through the faulty one. */
  private static final class FaultyPath implements Path {
    private final FaultyFileSystem fs;
    private final Path real;

    FaultyPath(FaultyFileSystem fs, Path real) {
      this.fs = fs;
      this.real = real;
    }

    private Path wrap(Path p) {
      return p == null ? null : new FaultyPath(fs, p);
    }

    @Override
    public FileSystem getFileSystem() {
      return fs;
    }

    @Override
    public boolean isAbsolute() {
      return real.isAbsolute();
    }

    @Override
    public Path getRoot() {
      return wrap(real.getRoot());
    }

    @Override
    public Path getFileName() {
      return wrap(real.getFileName());
    }

    @Override
    public Path getParent() {
      return wrap(real.getParent());
    }

    @Override
    public int getNameCount() {
      return real.getNameCount();
    }

    @Override
    public Path getName(int index) {
      return wrap(real.getName(index));
    }

    @Override
    public Path subpath(int beginIndex, int endIndex) {
      return wrap(real.subpath(beginIndex, endIndex));
    }

    @Override
    public boolean startsWith(Path other) {
      return other instanceof FaultyPath p && real.startsWith(p.real);
    }

    @Override
    public boolean endsWith(Path other) {
      return other instanceof FaultyPath p && real.endsWith(p.real);
    }

    @Override
    public Path normalize() {
      return wrap(real.normalize());
    }

    @Override
    public Path resolve(Path other) {
      return wrap(real.resolve(unwrap(other)));
    }

    @Override
    public Path relativize(Path other) {
      return wrap(real.relativize(unwrap(other)));
    }

    @Override
    public URI toUri() {
      throw new UnsupportedOperationException("no URIs on the faulty file system");
    }

    @Override
    public Path toAbsolutePath() {
      return wrap(real.toAbsolutePath());
    }

    @Override
    public Path toRealPath(LinkOption... options) throws IOException {
      return wrap(real.toRealPath(options));
    }

    @Override
    public WatchKey register(
        WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers) {
      throw new UnsupportedOperationException("no watch service on the faulty file system");
    }

    @Override
    public int compareTo(Path other) {
      return real.compareTo(unwrap(other));
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof FaultyPath p && p.fs == fs && p.real.equals(real);
    }

    @Override
    public int hashCode() {
      return real.hashCode();
    }

    @Override
    public String toString() {
      return real.toString();
    }
  }
}
