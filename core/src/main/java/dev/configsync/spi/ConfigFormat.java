package dev.configsync.spi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigFileException;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A file format for configurations given by hand: the fallback declarative file and manual loads.
 * Core reads JSON and gzip {@code reconfigure} payloads ({@code config.json.gz}) itself; other
 * formats are found with {@link java.util.ServiceLoader} ({@code configsync-cache} provides YAML).
 *
 * <p>Implementations must be stateless and thread-safe, refuse files larger than {@code maxBytes},
 * and return a frozen tree (see {@code dev.configsync.internal.Json#strictMapper}).
 */
public interface ConfigFormat {

  /** Whether this format reads {@code file}, judged by its name. */
  boolean handles(Path file);

  /**
   * Reads the configuration table in {@code file}.
   *
   * @throws ConfigFileException when the content is invalid (with the file, line and column)
   * @throws IOException when the file cannot be read
   */
  JsonNode read(Path file, long maxBytes) throws IOException;
}
