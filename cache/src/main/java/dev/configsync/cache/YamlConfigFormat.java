package dev.configsync.cache;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.configsync.ConfigFileException;
import dev.configsync.internal.FrozenNodes;
import dev.configsync.internal.Json;
import dev.configsync.spi.ConfigFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads declarative configurations in YAML ({@code .yml}, {@code .yaml}), such as Kong's {@code
 * kong.yml}. Found by core through {@link java.util.ServiceLoader}.
 *
 * <p>Hostile files are refused with a {@link ConfigFileException} naming file, line and column:
 * alias bombs (more than 50 aliases for collections), duplicate keys, nesting deeper than 100, and
 * files larger than the given limit (checked before reading, and again by the parser).
 */
public final class YamlConfigFormat implements ConfigFormat {
  /** Most aliases a file may use for collections: a "billion laughs" file needs many. */
  static final int MAX_ALIASES = 50;

  /** Deepest nesting accepted in a YAML file. */
  static final int MAX_NESTING = 100;

  /** Creates the format (for {@link java.util.ServiceLoader}). */
  public YamlConfigFormat() {}

  @Override
  public boolean handles(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.endsWith(".yml") || name.endsWith(".yaml");
  }

  @Override
  public JsonNode read(Path file, long maxBytes) throws IOException {
    long size = Files.size(file);
    if (size > maxBytes) {
      throw new ConfigFileException(
          file, 0, 0, "file of " + size + " bytes exceeds the limit of " + maxBytes, null);
    }
    LoaderOptions options = new LoaderOptions();
    options.setMaxAliasesForCollections(MAX_ALIASES);
    options.setAllowDuplicateKeys(false);
    options.setNestingDepthLimit(MAX_NESTING);
    options.setCodePointLimit((int) Math.min(Integer.MAX_VALUE, Math.max(maxBytes, 1)));
    ObjectMapper mapper = Json.strictMapper(YAMLFactory.builder().loaderOptions(options).build());
    try (InputStream in = Files.newInputStream(file)) {
      JsonNode node = mapper.readTree(in);
      if (node == null || node.isMissingNode() || node.isNull()) {
        throw new ConfigFileException(file, 0, 0, "the file holds no configuration", null);
      }
      if (!node.isObject()) {
        throw new ConfigFileException(
            file, 1, 1, "expected a mapping at the top level, found " + node.getNodeType(), null);
      }
      return FrozenNodes.freeze(node);
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      Mark mark = problemMark(e);
      throw new ConfigFileException(
          file,
          mark != null ? mark.getLine() + 1 : at == null ? 0 : at.getLineNr(),
          mark != null ? mark.getColumn() + 1 : at == null ? 0 : at.getColumnNr(),
          e.getOriginalMessage(),
          e);
    } catch (ConfigFileException e) {
      throw e; // already names the file and the position
    } catch (RuntimeException e) {
      // SnakeYAML reports some limits (aliases, code points) as its own runtime exceptions.
      Mark mark = problemMark(e);
      throw new ConfigFileException(
          file,
          mark == null ? 0 : mark.getLine() + 1,
          mark == null ? 0 : mark.getColumn() + 1,
          "invalid YAML: " + e.getMessage(),
          e);
    }
  }

  /**
   * Where SnakeYAML found the problem (0-based), if it said. Jackson's own location for a SnakeYAML
   * error is where its last token was, which can be lines earlier (a tab that starts line 3 is
   * reported at the end of line 2).
   */
  private static @Nullable Mark problemMark(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof MarkedYAMLException marked && marked.getProblemMark() != null) {
        return marked.getProblemMark();
      }
    }
    return null;
  }
}
