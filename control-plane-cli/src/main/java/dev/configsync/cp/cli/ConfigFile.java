package dev.configsync.cp.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cache.YamlConfigFormat;
import dev.configsync.cli.BadArgumentException;
import dev.configsync.internal.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads {@code --config}, JSON or YAML, before anything is bound, so that a bad file exits with the
 * usage status. Stateless.
 */
final class ConfigFile {
  private ConfigFile() {}

  /** The declarative configuration in {@code file}; or a message naming {@code --config}. */
  static JsonNode read(Path file) throws BadArgumentException {
    byte[] bytes;
    try {
      if (!Files.isRegularFile(file)) {
        throw new BadArgumentException("--config " + file + ": no such file");
      }
      long size = Files.size(file);
      if (size > ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES) {
        throw new BadArgumentException(
            "--config "
                + file
                + " has "
                + size
                + " bytes; at most "
                + ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES
                + " are read");
      }
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new BadArgumentException("--config " + file + " cannot be read: " + e.getMessage(), e);
    }
    if (bytes.length >= 2 && bytes[0] == (byte) 0x1f && bytes[1] == (byte) 0x8b) {
      throw new BadArgumentException(
          "--config "
              + file
              + " is gzip (a config.json.gz?); give JSON or YAML, or copy the file into the"
              + " --store directory as config.json.gz");
    }
    String name = String.valueOf(file.getFileName()).toLowerCase(Locale.ROOT);
    JsonNode table;
    if (name.endsWith(".yml") || name.endsWith(".yaml")) {
      try {
        table =
            new YamlConfigFormat().read(file, bytes, ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES);
      } catch (ConfigFileException e) {
        throw new BadArgumentException("--config: not valid YAML: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new BadArgumentException("--config " + file + ": " + e.getMessage(), e);
      }
    } else {
      try {
        table = Json.readFrozen(bytes);
      } catch (JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        throw new BadArgumentException(
            "--config "
                + file
                + (at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr())
                + ": not valid JSON: "
                + e.getOriginalMessage(),
            e);
      } catch (IOException e) {
        throw new BadArgumentException(
            "--config " + file + ": not valid JSON: " + e.getMessage(), e);
      }
    }
    if (table == null || !table.isObject()) {
      throw new BadArgumentException(
          "--config "
              + file
              + " must hold an object (a declarative configuration), found "
              + (table == null
                  ? "nothing"
                  : table.getNodeType().toString().toLowerCase(Locale.ROOT)));
    }
    return table;
  }
}
