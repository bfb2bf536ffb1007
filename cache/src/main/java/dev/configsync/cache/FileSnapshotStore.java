package dev.configsync.cache;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.configsync.AtRestEncryption;
import dev.configsync.DecryptionException;
import dev.configsync.internal.StoredPayloads;
import dev.configsync.spi.SnapshotStore;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link SnapshotStore} that keeps the payload in {@code <directory>/config.json.gz} and the node
 * identity in {@code <directory>/node.id}.
 *
 * <p>Durability: {@link #write} and the creation of {@code node.id} write a temporary file named
 * {@code .<target>.<random hex>.tmp} in the same directory (created new, mode 0600 where the file
 * system is POSIX), force it to disk, rename it atomically over the target and then force the
 * directory. When such a call returns, its file survives a crash or power loss; if the process dies
 * at any instant before that, the target still holds its previous content. Temporary files left by
 * a crash are deleted by {@link #open}. Payloads are stored verbatim: the store never decompresses
 * or checks them.
 *
 * <p>Encryption at rest (optional, {@link #open(Path, AtRestEncryption)}): {@code config.json.gz}
 * then holds the payload encrypted with the current key ({@link AtRestEncryption}: AES-256-GCM, the
 * key id in a header), written through the same temporary file, fsync and rename. {@link #read}
 * decrypts with the current or an old key; a file it cannot decrypt (unknown key, altered,
 * truncated, not a configsync file) makes it throw a {@link DecryptionException}, which the client
 * treats as a damaged cache: moved aside, {@code CacheDamaged}, start-up goes on. A file found
 * unencrypted, or encrypted with an old key, is accepted and at once written again under the
 * current key, so that turning encryption on or rotating keys does not lose the configuration and
 * leaves no plaintext copy behind. Without encryption, an encrypted file is refused in the same
 * way, with a message that says no key is configured. {@code node.id} is never encrypted: it is not
 * secret.
 *
 * <p>Journal: {@link #append} adds a change to {@code <directory>/config.journal} (created through
 * a temporary file and rename, then extended in place, each record forced to disk before the call
 * returns; encrypted like {@code config.json.gz} when the store has encryption). The journal's
 * header holds the SHA-256 of the payload it belongs to: {@link #journal} returns nothing from a
 * journal that belongs to another payload (and deletes it), and cuts off a torn or damaged tail.
 * {@link #write} replaces {@code config.json.gz} first and deletes the journal after, so a crash
 * between the two leaves a journal bound to the previous payload: discarded, unless the new payload
 * is byte for byte the previous one, in which case replaying it yields the configuration the node
 * had before the write, which is as correct as a write that had not finished. The file format is in
 * {@code docs/protocol.md}, "Cache journal".
 *
 * <p>Threading: instances are thread-safe; calls that change files are serialized on the instance.
 * One process, and one instance, per directory: nothing stops two processes from sharing a
 * directory, and if they do they share one node identity.
 */
public final class FileSnapshotStore implements SnapshotStore {
  /** The default read limit of {@link #open(Path)}: 64 MiB, four times the default payload cap. */
  public static final long DEFAULT_MAX_BYTES = 64L * 1024 * 1024;

  /** How many files {@link #moveAside} keeps; older ones are deleted. */
  public static final int KEPT_BROKEN_FILES = 5;

  private static final Logger log = LoggerFactory.getLogger(FileSnapshotStore.class);
  private static final String CONFIG = "config.json.gz";
  private static final String NODE_ID = "node.id";
  private static final String JOURNAL = "config.journal";
  private static final String BROKEN = CONFIG + ".broken-";
  private static final String TEMP_GLOB = ".{" + CONFIG + "," + NODE_ID + "," + JOURNAL + "}.*.tmp";
  private static final Pattern BROKEN_NAME =
      Pattern.compile(Pattern.quote(BROKEN) + "(\\d{8}T\\d{6}\\.\\d{3}Z)(?:-(\\d{1,9}))?");
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("uuuuMMdd'T'HHmmss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);
  private static final Pattern UUID_TEXT =
      Pattern.compile(
          "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

  private final Path directory;
  private final Path file;
  private final Path journalFile;
  private final long maxBytes;
  private final Clock clock;
  private final AtomicFiles.BeforeRename beforeRename; // test seam
  private final @Nullable AtRestEncryption encryption;
  private final FileAttribute<?>[] ownerOnly;
  private final Object lock = new Object();
  private @Nullable UUID nodeId; // guarded by lock
  // The SHA-256 of the payload in config.json.gz, when this instance knows it (guarded by lock).
  private byte @Nullable [] payloadDigest;
  // Where the journal's good part ends: -1 unknown (append refused), 0 no journal (guarded by
  // lock).
  private long journalEnd = -1;

  private FileSnapshotStore(
      Path directory,
      long maxBytes,
      Clock clock,
      AtomicFiles.BeforeRename beforeRename,
      @Nullable AtRestEncryption encryption,
      boolean posix) {
    this.directory = directory;
    this.file = directory.resolve(CONFIG);
    this.journalFile = directory.resolve(JOURNAL);
    this.maxBytes = maxBytes;
    this.clock = clock;
    this.beforeRename = beforeRename;
    this.encryption = encryption;
    this.ownerOnly = AtomicFiles.permissions(posix, "rw-------");
  }

  /** Same as {@link #open(Path, long)} with {@link #DEFAULT_MAX_BYTES}. */
  public static FileSnapshotStore open(Path directory) throws IOException {
    return open(directory, DEFAULT_MAX_BYTES);
  }

  /**
   * Opens a store in {@code directory}, creating it (mode 0700 where POSIX) if missing, and deletes
   * temporary files left by an interrupted write.
   *
   * @param maxBytes the largest payload {@link #read} loads into memory and {@link #write} accepts
   * @throws IllegalArgumentException when {@code maxBytes} is not between 1 and 2^31 - 9
   * @throws IOException when the path is not a writable directory or cannot be created
   */
  public static FileSnapshotStore open(Path directory, long maxBytes) throws IOException {
    return open(directory, maxBytes, Clock.systemUTC(), temp -> {}, null);
  }

  /**
   * Same as {@link #open(Path, long, AtRestEncryption)} with {@link #DEFAULT_MAX_BYTES}.
   *
   * @throws IOException when the path is not a writable directory or cannot be created
   */
  public static FileSnapshotStore open(Path directory, AtRestEncryption encryption)
      throws IOException {
    return open(directory, DEFAULT_MAX_BYTES, encryption);
  }

  /**
   * Opens a store as {@link #open(Path, long)} does, that keeps {@code config.json.gz} encrypted
   * with {@code encryption} (see the class comment). The file may be up to {@link
   * AtRestEncryption#OVERHEAD} bytes larger than {@code maxBytes}.
   *
   * @throws IllegalArgumentException when {@code maxBytes} is not between 1 and 2^31 - 9
   * @throws IOException when the path is not a writable directory or cannot be created
   */
  public static FileSnapshotStore open(Path directory, long maxBytes, AtRestEncryption encryption)
      throws IOException {
    Objects.requireNonNull(encryption, "encryption");
    return open(directory, maxBytes, Clock.systemUTC(), temp -> {}, encryption);
  }

  static FileSnapshotStore open(
      Path directory,
      long maxBytes,
      Clock clock,
      AtomicFiles.BeforeRename hook,
      @Nullable AtRestEncryption encryption)
      throws IOException {
    if (maxBytes < 1 || maxBytes > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "maxBytes must be between 1 and " + (Integer.MAX_VALUE - 8) + ": " + maxBytes);
    }
    Path dir = directory.toAbsolutePath();
    boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
    if (!Files.isDirectory(dir)) {
      if (Files.exists(dir)) {
        throw new IOException(
            "Cache directory " + dir + " exists but is not a directory; choose another path");
      }
      try {
        Files.createDirectories(dir, AtomicFiles.permissions(posix, "rwx------"));
      } catch (IOException e) {
        throw new IOException("Cannot create cache directory " + dir + ": " + e, e);
      }
      Path parent = dir.getParent();
      if (parent != null) {
        AtomicFiles.syncDirectory(parent);
      }
    }
    if (!Files.isWritable(dir)) {
      throw new IOException(
          "Cache directory "
              + dir
              + " is not writable; fix its permissions or choose another path");
    }
    int stale = 0;
    try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, TEMP_GLOB)) {
      for (Path temp : temps) {
        stale += Files.deleteIfExists(temp) ? 1 : 0;
      }
    }
    if (stale > 0) {
      log.info("Deleted {} temporary file(s) left by an interrupted write in {}", stale, dir);
    }
    return new FileSnapshotStore(dir, maxBytes, clock, hook, encryption, posix);
  }

  /** The file that holds the payload: {@code <directory>/config.json.gz}. */
  public Path file() {
    return file;
  }

  /** The encryption of {@code config.json.gz}, or empty when it is stored unencrypted. */
  public Optional<AtRestEncryption> encryption() {
    return Optional.ofNullable(encryption);
  }

  /**
   * Returns the payload last given to {@link #write}, exactly, or empty when {@code config.json.gz}
   * does not exist. With encryption, a file found unencrypted or under an old key is first written
   * again under the current key (a WARN says so; if that fails, the payload is still returned).
   *
   * @throws DecryptionException when the file cannot be decrypted (see the class comment); the
   *     message names the file and the key id, never the content
   * @throws IOException when the file cannot be read or is larger than the limit given to {@link
   *     #open(Path, long)}
   */
  @Override
  public Optional<byte[]> read() throws IOException {
    synchronized (lock) {
      long limit =
          encryption == null
              ? maxBytes
              : Math.min(maxBytes + AtRestEncryption.OVERHEAD, Integer.MAX_VALUE - 8);
      payloadDigest = null;
      journalEnd = -1;
      Optional<byte[]> stored =
          AtomicFiles.readBounded(file, limit, "move it aside or raise maxBytes");
      if (stored.isEmpty()) {
        return stored;
      }
      StoredPayloads.Opened opened = StoredPayloads.open(encryption, stored.get(), file.toString());
      payloadDigest = JournalFile.digest(opened.payload());
      String stale = opened.stale();
      if (encryption != null && stale != null) {
        reencrypt(opened.payload(), stale, encryption);
      }
      return Optional.of(opened.payload());
    }
  }

  /** Writes {@code payload} again under the current key; a failure only costs a WARN. */
  private void reencrypt(byte[] payload, String stale, AtRestEncryption encryption) {
    try {
      if (payload.length > maxBytes) {
        throw new IOException("it is larger than the limit of " + maxBytes + " bytes");
      }
      AtomicFiles.write(file, encryption.encrypt(payload), ownerOnly, beforeRename);
      log.warn(
          "{} was {}; it is now encrypted with the current key id {}",
          file,
          stale,
          encryption.keyId());
    } catch (IOException | RuntimeException e) {
      log.warn(
          "{} is {} and could not be encrypted with the current key id {}: {}; it is used all"
              + " the same, and replaced at the next configuration",
          file,
          stale,
          encryption.keyId(),
          e.toString());
    }
  }

  /**
   * Replaces {@code config.json.gz} with {@code payload} (encrypted with the current key when the
   * store has encryption) as described in the class comment. When this throws, no temporary file
   * remains and the previous file is intact, except when only the final directory sync failed: the
   * new file is then in place but may not survive a power loss.
   *
   * @throws IOException when the payload is larger than the limit or could not be made durable
   */
  @Override
  public void write(byte[] payload) throws IOException {
    if (payload.length > maxBytes) {
      throw new IOException(
          "Refusing to store a " + payload.length + "-byte payload: the limit is " + maxBytes);
    }
    byte[] stored = StoredPayloads.seal(encryption, payload);
    byte[] digest = JournalFile.digest(payload);
    synchronized (lock) {
      try {
        AtomicFiles.write(file, stored, ownerOnly, beforeRename);
        JournalFile.delete(journalFile); // after: see the class comment
        payloadDigest = digest;
        journalEnd = 0;
      } catch (IOException | RuntimeException e) {
        payloadDigest = null; // which payload and journal survive is unknown: append refused
        journalEnd = -1;
        throw e;
      }
    }
  }

  /**
   * Appends {@code change} to {@code config.journal} as described in the class comment. Returns
   * {@code false}, changing nothing, when this instance does not know which payload {@code
   * config.json.gz} holds (neither {@link #read} then {@link #journal}, nor {@link #write}, has
   * succeeded since it was opened or since a failure), or when the journal would grow past the
   * store's size limit: the client then writes the whole configuration.
   *
   * @throws IOException when the record could not be made durable; appends are then refused until
   *     the next successful {@link #write}
   */
  @Override
  public boolean append(byte[] change) throws IOException {
    byte[] data = StoredPayloads.seal(encryption, change);
    synchronized (lock) {
      byte[] digest = payloadDigest;
      long end = journalEnd;
      long grown =
          (end == 0 ? JournalFile.HEADER_BYTES : end) + JournalFile.RECORD_OVERHEAD + data.length;
      if (digest == null || end < 0 || grown > maxBytes) {
        return false;
      }
      try {
        if (end == 0) {
          JournalFile.create(journalFile, digest, data, ownerOnly, beforeRename);
        } else {
          JournalFile.writeAt(journalFile, end, JournalFile.record(data));
        }
        journalEnd = grown;
      } catch (IOException | RuntimeException e) {
        payloadDigest = null;
        journalEnd = -1;
        throw e;
      }
      return true;
    }
  }

  /**
   * Returns the changes appended to the payload {@link #read} last returned, oldest first
   * (decrypted when the store has encryption), as described in the class comment. A journal that
   * belongs to another payload is deleted; a torn or damaged tail (a record whose length, CRC or
   * decryption fails) is cut off the file, with a WARN, so that later appends follow the last good
   * record.
   *
   * @throws IOException when the journal cannot be read, is larger than the store's limit, or its
   *     damaged tail cannot be cut off
   */
  @Override
  public List<byte[]> journal() throws IOException {
    synchronized (lock) {
      byte[] digest = payloadDigest;
      if (digest == null) {
        return List.of(); // no payload read: nothing to replay a journal on
      }
      journalEnd = -1;
      Optional<JournalFile.Contents> contents = JournalFile.read(journalFile, digest, maxBytes);
      if (contents.isEmpty()) {
        if (JournalFile.delete(journalFile)) {
          log.info(
              "Deleted {}: it belongs to another {} than the one in place", journalFile, CONFIG);
        }
        journalEnd = 0;
        return List.of();
      }
      List<byte[]> changes = new ArrayList<>();
      long good = JournalFile.HEADER_BYTES;
      String damage = contents.get().cut() ? "a torn or damaged record" : null;
      for (byte[] data : contents.get().records()) {
        try {
          changes.add(
              StoredPayloads.open(encryption, data, journalFile + " record " + (changes.size() + 1))
                  .payload());
        } catch (DecryptionException e) {
          damage = e.getMessage();
          break;
        }
        good += JournalFile.RECORD_OVERHEAD + data.length;
      }
      if (damage != null) {
        JournalFile.truncate(journalFile, good);
        log.warn(
            "Cut {} after {} good record(s) ({} bytes dropped): {}",
            journalFile,
            changes.size(),
            contents.get().fileLength() - good,
            damage);
      }
      journalEnd = good;
      return List.copyOf(changes);
    }
  }

  /**
   * Renames {@code config.json.gz} to {@code config.json.gz.broken-<UTC time>} (for example {@code
   * config.json.gz.broken-20261126T153012.123Z}, with {@code -1}, {@code -2}... appended when that
   * name is taken), deletes all but the newest {@value #KEPT_BROKEN_FILES} such files (newest by
   * the time in the name, so after the clock steps back a newer file may go first), and logs the
   * reason at WARN, never the content. The rename is durable when this returns.
   *
   * @return the new file name, relative to {@link #describe() the directory}
   * @throws IOException when {@code config.json.gz} does not exist or cannot be renamed
   */
  @Override
  public String moveAside(String reason) throws IOException {
    synchronized (lock) {
      String stamp = STAMP.format(clock.instant());
      // Number after the highest suffix in use, not into the first free name: pruning frees old
      // names, and reusing one would make the newest file sort as the oldest.
      int n = 0;
      for (Matcher m : brokenFiles()) {
        n = m.group(1).equals(stamp) ? suffix(m) + 1 : n;
      }
      for (; ; n++) {
        String name = BROKEN + stamp + (n == 0 ? "" : "-" + n);
        try {
          Files.move(file, directory.resolve(name));
        } catch (FileAlreadyExistsException taken) {
          continue;
        } catch (NoSuchFileException e) {
          throw new IOException("Cannot move " + file + " aside: it does not exist", e);
        }
        log.warn("Moved damaged {} aside to {}: {}", file, name, reason);
        payloadDigest = null;
        journalEnd = -1;
        if (JournalFile.delete(journalFile)) {
          log.warn("Deleted {}: it belonged to the damaged {}", journalFile, CONFIG);
        }
        try {
          List<Matcher> broken = brokenFiles();
          for (int i = 0; i < broken.size() - KEPT_BROKEN_FILES; i++) {
            Files.deleteIfExists(directory.resolve(broken.get(i).group()));
          }
        } catch (IOException e) {
          log.warn("Could not delete old broken cache files in {}", directory, e);
        }
        AtomicFiles.syncDirectory(directory);
        return name;
      }
    }
  }

  /**
   * Returns the UUID in {@code node.id}, creating that file durably with a random UUID when it does
   * not exist. The value is read once and cached.
   *
   * @throws IOException when {@code node.id} does not hold a UUID, or cannot be read or created
   */
  @Override
  public UUID nodeId() throws IOException {
    synchronized (lock) {
      if (nodeId == null) {
        Path idFile = directory.resolve(NODE_ID);
        String remedy = "delete it to mint a new node identity";
        Optional<byte[]> raw = AtomicFiles.readBounded(idFile, 1024, remedy);
        if (raw.isPresent()) {
          String text = new String(raw.get(), UTF_8).trim();
          if (!UUID_TEXT.matcher(text).matches()) {
            String shown = text.substring(0, Math.min(40, text.length()));
            throw new IOException(
                idFile
                    + " does not hold a node identity (a UUID); found \""
                    + shown.replaceAll("[^\\x20-\\x7E]", "?")
                    + "\"; "
                    + remedy);
          }
          nodeId = UUID.fromString(text);
        } else {
          UUID minted = UUID.randomUUID();
          AtomicFiles.write(idFile, (minted + "\n").getBytes(UTF_8), ownerOnly, beforeRename);
          log.info("Created node identity {} in {}", minted, idFile);
          nodeId = minted;
        }
      }
      return nodeId;
    }
  }

  /** The absolute path of the store's directory. */
  @Override
  public String describe() {
    return directory.toString();
  }

  /** The files moved aside, oldest first by the timestamp and suffix in their names. */
  private List<Matcher> brokenFiles() throws IOException {
    List<Matcher> broken = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, BROKEN + "*")) {
      for (Path path : files) {
        Matcher m = BROKEN_NAME.matcher(path.getFileName().toString());
        if (m.matches()) {
          broken.add(m);
        }
      }
    }
    broken.sort(
        Comparator.comparing((Matcher m) -> m.group(1))
            .thenComparingInt(FileSnapshotStore::suffix));
    return broken;
  }

  private static int suffix(Matcher brokenName) {
    String suffix = brokenName.group(2);
    return suffix == null ? 0 : Integer.parseInt(suffix);
  }
}
