package dev.configsync.agent;

import dev.configsync.AtRestEncryption;
import dev.configsync.cache.FileSnapshotStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * The flags that give the key of an encrypted cache ({@code --cache-key-file}, {@code
 * --cache-key-env}, and the old keys of a rotation), shared by every command that reads or writes
 * the cache: {@code run}, {@code load} and {@code hash}.
 */
final class CacheKeyOptions {
  private static final Logger log = LoggerFactory.getLogger(CacheKeyOptions.class);

  @Option(
      names = "--cache-key-file",
      paramLabel = "FILE",
      description =
          "Encrypt the cache (config.json.gz) at rest with AES-256-GCM, with the key in FILE: 32"
              + " random bytes, raw or as base64 or hex text (make one with 'openssl rand -base64"
              + " 32'). A cache this key cannot decrypt is moved aside as damaged.")
  @Nullable Path keyFile;

  @Option(
      names = "--cache-key-env",
      paramLabel = "NAME",
      description =
          "The same, with the key as base64 or hex text in environment variable NAME (instead of"
              + " --cache-key-file).")
  @Nullable String keyEnv;

  @Option(
      names = "--cache-old-key-file",
      paramLabel = "FILE",
      description =
          "A former key, still accepted for reading a cache written with it (which is then"
              + " re-encrypted with the current key); repeatable.")
  List<Path> oldKeyFiles = new ArrayList<>();

  @Option(
      names = "--cache-old-key-env",
      paramLabel = "NAME",
      description = "A former key, in environment variable NAME; repeatable.")
  List<String> oldKeyEnvs = new ArrayList<>();

  /**
   * The encryption these flags describe, or null when none was given.
   *
   * @throws IllegalArgumentException when the flags contradict each other or a key cannot be used;
   *     the message names the flag, and the file or variable, never a key
   */
  @Nullable AtRestEncryption encryption() {
    if (keyFile != null && keyEnv != null) {
      throw new IllegalArgumentException(
          "--cache-key-file and --cache-key-env both give the current key: give one of them (an"
              + " older key goes in --cache-old-key-file or --cache-old-key-env)");
    }
    AtRestEncryption current;
    if (keyFile != null) {
      current = key("--cache-key-file", keyFile, null);
    } else if (keyEnv != null) {
      current = key("--cache-key-env", null, keyEnv);
    } else {
      if (!oldKeyFiles.isEmpty() || !oldKeyEnvs.isEmpty()) {
        throw new IllegalArgumentException(
            "--cache-old-key-file and --cache-old-key-env need a current key: give"
                + " --cache-key-file or --cache-key-env too");
      }
      return null;
    }
    List<AtRestEncryption> old = new ArrayList<>();
    for (Path file : oldKeyFiles) {
      old.add(key("--cache-old-key-file", file, null));
    }
    for (String name : oldKeyEnvs) {
      old.add(key("--cache-old-key-env", null, name));
    }
    return current.withOldKeys(old.toArray(new AtRestEncryption[0]));
  }

  /** Opens the store on {@code dir}, encrypted when {@code encryption} is not null. */
  static FileSnapshotStore openStore(Path dir, @Nullable AtRestEncryption encryption)
      throws IOException {
    if (encryption == null) {
      return FileSnapshotStore.open(dir);
    }
    FileSnapshotStore store = FileSnapshotStore.open(dir, encryption);
    log.info("the cache in {} is encrypted at rest: {}", store.describe(), encryption);
    return store;
  }

  /**
   * Why the cache in {@code dir} cannot be read with {@code encryption} (it is encrypted and there
   * is no key, or not the key it was written with), or empty when it can, as far as its header
   * tells, or when there is none.
   */
  static Optional<String> keyMismatch(Path dir, @Nullable AtRestEncryption encryption) {
    Path file = dir.resolve("config.json.gz");
    byte[] head;
    try (InputStream in = Files.newInputStream(file)) {
      head = in.readNBytes(AtRestEncryption.HEADER_BYTES);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty(); // the store reports an unreadable file itself
    }
    Optional<String> keyId = AtRestEncryption.keyIdOf(head);
    if (keyId.isEmpty()) {
      return Optional.empty();
    }
    if (encryption == null) {
      return Optional.of(
          file
              + " is encrypted with key id "
              + keyId.get()
              + "; give the key the agent runs with (--cache-key-file or --cache-key-env)");
    }
    if (!encryption.keyIds().contains(keyId.get())) {
      return Optional.of(
          file
              + " is encrypted with key id "
              + keyId.get()
              + ", not with any key given "
              + encryption.keyIds()
              + "; give the key the agent runs with");
    }
    return Optional.empty();
  }

  private static AtRestEncryption key(String flag, @Nullable Path file, @Nullable String env) {
    try {
      return file != null
          ? AtRestEncryption.fromKeyFile(file)
          : AtRestEncryption.fromEnvironment(String.valueOf(env));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(flag + ": " + e.getMessage(), e);
    }
  }
}
