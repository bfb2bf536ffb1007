package dev.configsync;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.spi.ConfigFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import org.jspecify.annotations.Nullable;

/**
 * Reads a configuration given by hand: a gzip {@code reconfigure} payload (a {@code config.json.gz}
 * copied from another node, verified by its hash), a JSON file (a configuration table, or a whole
 * {@code reconfigure} message), or any format a {@link ConfigFormat} on the class path handles
 * (YAML with {@code configsync-cache}).
 */
final class ConfigFiles {
  private final PayloadDecoder decoder;
  private final long maxPayloadBytes;
  private final long maxInflatedBytes;
  private final List<ConfigFormat> formats;

  ConfigFiles(PayloadDecoder decoder, long maxPayloadBytes, long maxInflatedBytes) {
    this.decoder = decoder;
    this.maxPayloadBytes = maxPayloadBytes;
    this.maxInflatedBytes = maxInflatedBytes;
    List<ConfigFormat> found = new ArrayList<>();
    ServiceLoader.load(ConfigFormat.class, ConfigFiles.class.getClassLoader()).forEach(found::add);
    this.formats = List.copyOf(found);
  }

  /**
   * Reads {@code file} into a snapshot of {@code source}.
   *
   * @throws ConfigFileException when the file cannot be used, with the reason
   */
  ConfigSnapshot read(Path file, SnapshotSource source, Instant now) {
    try {
      if (!Files.isRegularFile(file)) {
        throw new ConfigFileException(file, 0, 0, "not a readable regular file", null);
      }
      long size = Files.size(file);
      byte[] head = head(file);
      if (AtRestEncryption.isEncrypted(head)) {
        throw new ConfigFileException(
            file,
            0,
            0,
            "is an encrypted configsync payload"
                + AtRestEncryption.keyIdOf(head).map(id -> " (key id " + id + ")").orElse("")
                + "; a file given by hand must be unencrypted: to move an encrypted cache to a"
                + " node that has its key, copy it into that node's cache directory instead",
            null);
      }
      if (head.length >= 2 && head[0] == (byte) 0x1f && head[1] == (byte) 0x8b) {
        if (size > maxPayloadBytes) {
          throw tooLarge(file, size, maxPayloadBytes);
        }
        try {
          return marked(decoder.decode(Files.readAllBytes(file), source, now));
        } catch (ConfigRejectedException e) {
          throw new ConfigFileException(file, 0, 0, e.getMessage(), e);
        }
      }
      for (ConfigFormat format : formats) {
        if (format.handles(file)) {
          return fromTable(file, format.read(file, maxInflatedBytes), source, now);
        }
      }
      String name = file.getFileName().toString();
      if (!name.endsWith(".json")) {
        throw new ConfigFileException(
            file,
            0,
            0,
            "unknown format: expected .json, a gzip config.json.gz payload"
                + (name.endsWith(".yml") || name.endsWith(".yaml")
                    ? ", or (with configsync-cache on the class path) .yml/.yaml"
                    : ", .yml or .yaml"),
            null);
      }
      if (size > maxInflatedBytes) {
        throw tooLarge(file, size, maxInflatedBytes);
      }
      JsonNode json;
      try {
        json = Json.readFrozen(Files.readAllBytes(file));
      } catch (JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        throw new ConfigFileException(
            file,
            at == null ? 0 : at.getLineNr(),
            at == null ? 0 : at.getColumnNr(),
            Json.withoutQuotedContent(String.valueOf(e.getOriginalMessage())),
            e);
      }
      if (HybridProtocol.TYPE_RECONFIGURE.equals(json.path("type").asText(null))
          && json.has("config_table")) {
        // A zcat'ed config.json.gz: check it like a pushed message.
        try {
          return marked(
              decoder.decode(
                  dev.configsync.internal.Gzip.compress(Files.readAllBytes(file)), source, now));
        } catch (ConfigRejectedException e) {
          throw new ConfigFileException(file, 0, 0, e.getMessage(), e);
        }
      }
      return fromTable(file, json, source, now);
    } catch (IOException e) {
      throw new ConfigFileException(file, 0, 0, "cannot be read: " + e.getMessage(), e);
    }
  }

  private static ConfigSnapshot fromTable(
      Path file, JsonNode table, SnapshotSource source, Instant now) {
    if (!table.isObject()) {
      throw new ConfigFileException(
          file, 1, 1, "a configuration must be an object, found " + table.getNodeType(), null);
    }
    ConfigHashes hashes = ConfigHash.configHashes(table);
    byte[] payload =
        HybridProtocol.reconfigure(table, hashes, now.toEpochMilli() / 1000.0, origin(source));
    return new ConfigSnapshot(hashes, source, now, table, payload);
  }

  private static @Nullable String origin(SnapshotSource source) {
    return source == SnapshotSource.MANUAL ? "manual" : null;
  }

  /** A manual load is re-encoded with its origin, so a restart still knows it as manual. */
  private static ConfigSnapshot marked(ConfigSnapshot snapshot) {
    String origin = origin(snapshot.source());
    if (origin == null) {
      return snapshot;
    }
    byte[] payload =
        HybridProtocol.reconfigure(
            snapshot.config(),
            snapshot.hashes(),
            snapshot.timestamp().toEpochMilli() / 1000.0,
            origin);
    return new ConfigSnapshot(
        snapshot.hashes(), snapshot.source(), snapshot.timestamp(), snapshot.config(), payload);
  }

  /** The first bytes of {@code file}: enough for the gzip magic and an encryption key id. */
  private static byte[] head(Path file) throws IOException {
    try (var in = Files.newInputStream(file)) {
      return in.readNBytes(AtRestEncryption.HEADER_BYTES);
    }
  }

  private static ConfigFileException tooLarge(Path file, long size, long max) {
    return new ConfigFileException(
        file, 0, 0, "file of " + size + " bytes exceeds the limit of " + max, null);
  }
}
