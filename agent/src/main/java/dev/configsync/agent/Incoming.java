package dev.configsync.agent;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The names and files of {@code <cache-dir>/incoming/}, through which {@code configsync-agent load}
 * hands a configuration to a running agent.
 *
 * <ul>
 *   <li>A request is {@code manual-<uuid>[.force][.<extension>]}, the file to load; the extension
 *       is that of the operator's file ({@code .json}, {@code .yml}, {@code .json.gz}), since the
 *       client tells formats apart by it. {@code .force} asks to load even while connected.
 *   <li>The agent claims a request by renaming it to {@code .claimed-<request name>}, so that a
 *       {@code load} that gives up can withdraw a request that was not claimed yet (its delete
 *       fails once the agent has it).
 *   <li>The answer is {@code manual-<uuid>.result}: {@code {"ok":true,"hash":"...","applied":
 *       "agent"}} or {@code {"ok":false,"error":"..."}}.
 *   <li>Every file is written under a temporary name starting with {@code .} and renamed into
 *       place, so that a file with its final name is always whole. The agent ignores names starting
 *       with {@code .}.
 * </ul>
 */
final class Incoming {
  /** The directory's name in the cache directory. */
  static final String DIR_NAME = "incoming";

  /** The prefix of a claimed request. */
  static final String CLAIMED_PREFIX = ".claimed-";

  /** The suffix of temporary files. */
  static final String TEMP_SUFFIX = ".tmp";

  private static final String PREFIX = "manual-";
  private static final String FORCE = "force";
  private static final String RESULT = "result";
  private static final String UUID_PATTERN =
      "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  private static final Pattern REQUEST =
      Pattern.compile(
          Pattern.quote(PREFIX)
              + "("
              + UUID_PATTERN
              + ")(\\."
              + FORCE
              + ")?((?:\\.[A-Za-z0-9_-]{1,16}){0,2})");
  private static final Pattern RESULT_NAME =
      Pattern.compile(Pattern.quote(PREFIX) + "(" + UUID_PATTERN + ")\\." + RESULT);
  private static final Pattern COMPONENT = Pattern.compile("[A-Za-z0-9_-]{1,16}");
  private static final ObjectMapper JSON = new ObjectMapper();

  private Incoming() {}

  /** A request found in the directory. */
  record Request(UUID id, boolean force, String name) {
    /** The name of the answer to this request. */
    String resultName() {
      return Incoming.resultName(id);
    }

    /** The name the request has once the agent has claimed it. */
    String claimedName() {
      return CLAIMED_PREFIX + name;
    }
  }

  /** The directory of {@code cacheDir}. */
  static Path directory(Path cacheDir) {
    return cacheDir.resolve(DIR_NAME);
  }

  /** Creates the directory (mode 0700) if it is missing. */
  static Path createDirectory(Path cacheDir) throws IOException {
    Path dir = directory(cacheDir);
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, ownerOnly(dir, "rwx------"));
    }
    return dir;
  }

  /**
   * The extension a request for {@code file} keeps: its last one or two components ({@code .json},
   * {@code .yml}, {@code .json.gz}), without components that would make the name mean something
   * else ({@code force}, {@code result}) or characters outside {@code [A-Za-z0-9_-]}; empty when
   * nothing is left.
   */
  static String extension(Path file) {
    Path fileName = file.getFileName();
    String name = fileName == null ? "" : fileName.toString();
    int start = 0;
    while (start < name.length() && name.charAt(start) == '.') {
      start++; // a hidden file's leading dot is not an extension
    }
    String[] parts = name.substring(start).split("\\.", -1);
    List<String> kept = new ArrayList<>();
    for (int i = Math.max(1, parts.length - 2); i < parts.length; i++) {
      String part = parts[i];
      String lower = part.toLowerCase(Locale.ROOT);
      if (COMPONENT.matcher(part).matches() && !lower.equals(FORCE) && !lower.equals(RESULT)) {
        kept.add(part);
      }
    }
    return kept.isEmpty() ? "" : "." + String.join(".", kept);
  }

  /** The name of a request. */
  static String requestName(UUID id, boolean force, String extension) {
    return PREFIX + id + (force ? "." + FORCE : "") + extension;
  }

  /** The name of the answer to request {@code id}. */
  static String resultName(UUID id) {
    return PREFIX + id + "." + RESULT;
  }

  /** The request named {@code name}, or empty when the name is not a request's. */
  static Optional<Request> parseRequest(String name) {
    if (RESULT_NAME.matcher(name).matches()) {
      return Optional.empty();
    }
    Matcher m = REQUEST.matcher(name);
    if (!m.matches()) {
      return Optional.empty();
    }
    return Optional.of(new Request(UUID.fromString(m.group(1)), m.group(2) != null, name));
  }

  /** Whether {@code name} is an answer. */
  static boolean isResult(String name) {
    return RESULT_NAME.matcher(name).matches();
  }

  /** The answer for a configuration that now runs (or already ran) with {@code hash}. */
  static ObjectNode okResult(String hash, String appliedTo) {
    ObjectNode result = JSON.createObjectNode();
    result.put("ok", true);
    result.put("hash", hash);
    result.put("applied", appliedTo);
    return result;
  }

  /** The answer for a refused configuration. */
  static ObjectNode failedResult(String error, @Nullable String hash) {
    ObjectNode result = JSON.createObjectNode();
    result.put("ok", false);
    result.put("error", error);
    if (hash != null) {
      result.put("hash", hash);
    }
    return result;
  }

  /** {@code json} as one line of compact JSON. */
  static String line(ObjectNode json) {
    try {
      return JSON.writeValueAsString(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write " + json, e);
    }
  }

  /**
   * Writes {@code content} to {@code dir/name} atomically: to a temporary file ({@code
   * .<name>.<random hex>.tmp}, mode 0600) that is forced to disk and then renamed over the target.
   */
  static void writeAtomically(Path dir, String name, byte[] content) throws IOException {
    replaceAtomically(dir, name, out -> out.write(content));
  }

  /** Copies {@code source} to {@code dir/name} atomically, as {@link #writeAtomically}. */
  static void copyAtomically(Path source, Path dir, String name) throws IOException {
    replaceAtomically(
        dir,
        name,
        out -> {
          try (InputStream in = Files.newInputStream(source)) {
            in.transferTo(out);
          }
        });
  }

  /** Writes to a stream. */
  private interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  private static void replaceAtomically(Path dir, String name, Content content) throws IOException {
    Path temp =
        dir.resolve(
            "."
                + name
                + "."
                + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())
                + TEMP_SUFFIX);
    boolean moved = false;
    try {
      try (FileChannel channel =
          FileChannel.open(temp, Set.of(CREATE_NEW, WRITE), ownerOnly(dir, "rw-------"))) {
        OutputStream out = Channels.newOutputStream(channel);
        content.writeTo(out);
        out.flush();
        channel.force(true);
      }
      Files.move(temp, dir.resolve(name), REPLACE_EXISTING, ATOMIC_MOVE);
      moved = true;
    } finally {
      if (!moved) {
        Files.deleteIfExists(temp);
      }
    }
  }

  private static FileAttribute<?>[] ownerOnly(Path path, String permissions) {
    if (!path.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return new FileAttribute<?>[0];
    }
    return new FileAttribute<?>[] {
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(permissions))
    };
  }
}
