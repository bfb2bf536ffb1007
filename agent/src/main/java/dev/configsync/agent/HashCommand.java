package dev.configsync.agent;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.AtRestEncryption;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigSyncClient;
import dev.configsync.DecryptionException;
import dev.configsync.cache.YamlConfigFormat;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code configsync-agent hash FILE}: prints the configuration hash of a file. */
@Command(
    name = "hash",
    mixinStandardHelpOptions = true,
    version = ConfigSyncClient.VERSION,
    usageHelpAutoWidth = true,
    description = {
      "Prints the configuration hash (Kong's config_hash) of a declarative configuration.",
      "FILE is JSON, or YAML when its name ends in .yml or .yaml. A .gz file is inflated first"
          + " (so a copied config.json.gz can be checked); a reconfigure message (an object with"
          + " \"type\":\"reconfigure\", or any .gz with a config_table) is hashed by its"
          + " config_table.",
      "An encrypted config.json.gz is decrypted with the key given as to 'run' (--cache-key-file"
          + " or --cache-key-env).",
      "Exit status: 0 hash printed, 2 missing or invalid file."
    })
final class HashCommand implements Callable<Integer> {
  /** The largest inflated .gz content read: the client's default inflated-size cap. */
  private static final long MAX_INFLATED_BYTES = ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;

  @Parameters(index = "0", paramLabel = "FILE", description = "The file to hash.")
  @Nullable Path file;

  @Mixin CacheKeyOptions cacheKeys = new CacheKeyOptions();

  private @Nullable AtRestEncryption encryption;
  private final PrintStream out;
  private final PrintStream err;

  HashCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  public Integer call() {
    Path path = Objects.requireNonNull(file, "FILE");
    try {
      encryption = cacheKeys.encryption();
    } catch (IllegalArgumentException e) {
      err.println(AgentMain.NAME + ": " + e.getMessage());
      err.flush();
      return AgentMain.EXIT_USAGE;
    }
    try {
      out.println(hash(path));
      out.flush();
      return AgentMain.EXIT_OK;
    } catch (InvalidFileException e) {
      err.println(AgentMain.NAME + ": " + e.getMessage());
      err.flush();
      return AgentMain.EXIT_USAGE;
    }
  }

  private String hash(Path path) throws InvalidFileException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new InvalidFileException(path + ": no such file");
    } catch (IOException e) {
      throw new InvalidFileException(path + ": cannot read file (" + e + ")");
    }
    String name = path.getFileName() == null ? "" : path.getFileName().toString();
    name = name.toLowerCase(Locale.ROOT);
    boolean encrypted = AtRestEncryption.isEncrypted(bytes);
    if (encrypted) {
      bytes = decrypt(path, bytes);
    }
    boolean gzip = encrypted || name.endsWith(".gz");
    if (gzip) {
      name = name.endsWith(".gz") ? name.substring(0, name.length() - 3) : name;
      try {
        bytes = Gzip.decompress(bytes, MAX_INFLATED_BYTES);
      } catch (IOException e) {
        throw new InvalidFileException(path + ": not a valid gzip file (" + e.getMessage() + ")");
      }
    }
    boolean yaml = name.endsWith(".yml") || name.endsWith(".yaml");
    JsonNode document = yaml ? parseYaml(path, bytes) : parse(path, bytes, false);
    JsonNode configTable = document.get("config_table");
    boolean message =
        document.isObject()
            && configTable != null
            && (gzip || "reconfigure".equals(document.path("type").asText(null)));
    if (!message) {
      return ConfigHash.configHash(document);
    }
    String hash = ConfigHash.configHash(configTable);
    JsonNode claimed = document.get("config_hash");
    if (claimed != null && claimed.isTextual() && !claimed.asText().equals(hash)) {
      err.println(
          AgentMain.NAME
              + ": warning: "
              + path
              + " claims config_hash "
              + claimed.asText()
              + " but its config_table hashes to "
              + hash);
    }
    return hash;
  }

  private byte[] decrypt(Path path, byte[] bytes) throws InvalidFileException {
    AtRestEncryption encryption = this.encryption;
    if (encryption == null) {
      throw new InvalidFileException(
          path
              + ": encrypted"
              + AtRestEncryption.keyIdOf(bytes).map(id -> " with key id " + id).orElse("")
              + "; give its key with --cache-key-file or --cache-key-env");
    }
    try {
      return encryption.decrypt(bytes, path.toString());
    } catch (DecryptionException e) {
      throw new InvalidFileException(String.valueOf(e.getMessage()));
    }
  }

  private static JsonNode parse(Path path, byte[] bytes, boolean yaml) throws InvalidFileException {
    String format = yaml ? "YAML" : "JSON";
    JsonNode document;
    try {
      document = Json.readFrozen(bytes);
    } catch (JsonProcessingException e) {
      JsonLocation where = e.getLocation();
      throw new InvalidFileException(
          path
              + ": not valid "
              + format
              + ": "
              + e.getOriginalMessage()
              + (where == null
                  ? ""
                  : " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")"));
    } catch (IOException | RuntimeException e) {
      throw new InvalidFileException(path + ": not valid " + format + ": " + e.getMessage());
    }
    if (document == null || document.isMissingNode()) {
      throw new InvalidFileException(path + ": empty, no " + format + " content");
    }
    return document;
  }

  /** YAML exactly as the client reads it (fallback, manual loads): same limits, same refusals. */
  private static JsonNode parseYaml(Path path, byte[] bytes) throws InvalidFileException {
    try {
      return new YamlConfigFormat().read(path, bytes, MAX_INFLATED_BYTES);
    } catch (ConfigFileException e) {
      throw new InvalidFileException("not valid YAML: " + e.getMessage());
    } catch (IOException e) {
      throw new InvalidFileException(path + ": cannot be read: " + e.getMessage());
    }
  }

  /** The file is missing, unreadable or not a configuration; the message says which. */
  private static final class InvalidFileException extends Exception {
    private static final long serialVersionUID = 1L;

    InvalidFileException(String message) {
      super(message);
    }
  }
}
