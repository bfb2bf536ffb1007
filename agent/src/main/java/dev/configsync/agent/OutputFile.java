package dev.configsync.agent;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code --output} file: the running configuration as pretty-printed JSON, replaced atomically.
 *
 * <p>Each write goes to a new temporary file in the same directory ({@code .<name>.<hex>.tmp}),
 * which is forced to disk and then renamed over the target (an atomic replace), after which the
 * directory is forced too. A reader therefore sees the old file or the new one, never a partial
 * one, whatever instant the agent dies. A new file is created with mode 0600 (a configuration may
 * hold credentials); when the target exists, its permissions are kept.
 *
 * <p>Not thread-safe: the agent writes from the client's listener thread only.
 */
final class OutputFile {
  private static final Logger log = LoggerFactory.getLogger(OutputFile.class);
  private static final ObjectWriter PRETTY = new ObjectMapper().writerWithDefaultPrettyPrinter();
  private static final ObjectWriter YAML =
      new ObjectMapper(
              com.fasterxml.jackson.dataformat.yaml.YAMLFactory.builder()
                  .disable(com.fasterxml.jackson.dataformat.yaml.YAMLGenerator.Feature.SPLIT_LINES)
                  .build())
          .writer();

  /** The file formats {@code --format} offers. */
  enum Format {
    JSON,
    YAML
  }

  private static final boolean WINDOWS =
      System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");

  private final Path target;
  private final Path directory;
  private final String tempPrefix;
  private final boolean posix;
  private final Format format;

  OutputFile(Path path) {
    this(path, Format.JSON);
  }

  OutputFile(Path path, Format format) {
    this.format = format;
    this.target = path.toAbsolutePath().normalize();
    Path parent = target.getParent();
    if (parent == null) {
      throw new IllegalArgumentException("--output must name a file, got: " + path);
    }
    this.directory = parent;
    this.tempPrefix = "." + target.getFileName() + ".";
    this.posix = target.getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  /** The file, as an absolute path. */
  Path path() {
    return target;
  }

  /**
   * Deletes temporary files that an interrupted write left behind. Best effort: problems are only
   * logged.
   */
  void deleteStaleTemporaryFiles() {
    if (!Files.isDirectory(directory)) {
      log.warn(
          "the directory of --output {} does not exist (yet); each write fails until it does",
          target);
      return;
    }
    try (DirectoryStream<Path> files =
        Files.newDirectoryStream(
            directory,
            p -> {
              String name = p.getFileName().toString();
              return name.startsWith(tempPrefix) && name.endsWith(".tmp");
            })) {
      for (Path stale : files) {
        Files.deleteIfExists(stale);
        log.info("deleted {}, left by an interrupted write", stale);
      }
    } catch (IOException e) {
      log.warn("cannot clean temporary files of {}: {}", target, e.toString());
    }
  }

  /**
   * Replaces the file's content with {@code config}, as pretty-printed JSON or as YAML (a document
   * starting with {@code ---}), atomically and durably.
   *
   * @throws IOException when any step fails; the file then still holds its previous content
   */
  void write(JsonNode config) throws IOException {
    byte[] json =
        format == Format.YAML ? YAML.writeValueAsBytes(config) : PRETTY.writeValueAsBytes(config);
    ByteBuffer content = ByteBuffer.allocate(json.length + 1).put(json).put((byte) '\n').flip();
    Path temp =
        directory.resolve(
            tempPrefix
                + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())
                + ".tmp");
    boolean renamed = false;
    try {
      try (FileChannel channel = FileChannel.open(temp, Set.of(CREATE_NEW, WRITE), ownerOnly())) {
        while (content.hasRemaining()) {
          channel.write(content);
        }
        channel.force(true);
      }
      keepPermissionsOfTarget(temp);
      Files.move(temp, target, REPLACE_EXISTING, ATOMIC_MOVE);
      renamed = true;
      forceDirectory();
    } finally {
      if (!renamed) {
        try {
          Files.deleteIfExists(temp);
        } catch (IOException e) {
          log.warn("cannot delete temporary file {}: {}", temp, e.toString());
        }
      }
    }
  }

  private FileAttribute<?>[] ownerOnly() {
    if (!posix) {
      return new FileAttribute<?>[0];
    }
    return new FileAttribute<?>[] {
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))
    };
  }

  private void keepPermissionsOfTarget(Path temp) throws IOException {
    if (!posix) {
      return;
    }
    Set<PosixFilePermission> existing;
    try {
      existing = Files.getPosixFilePermissions(target);
    } catch (NoSuchFileException e) {
      return;
    }
    Files.setPosixFilePermissions(temp, existing);
  }

  private void forceDirectory() {
    if (WINDOWS) {
      return; // a directory cannot be opened as a channel there
    }
    try (FileChannel dir = FileChannel.open(directory, READ)) {
      dir.force(true);
    } catch (IOException e) {
      // The rename is done and atomic; only its durability across a power loss is in question.
      log.debug("cannot force directory {}: {}", directory, e.toString());
    }
  }
}
