package dev.configsync.cache;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
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
 * aliases ({@code *name}, so alias bombs too), duplicate keys, nesting deeper than 100, and files
 * larger than the given limit (checked before reading, and again by the parser).
 *
 * <p>Aliases are refused because Jackson's YAML parser does not resolve them: it reads {@code
 * *name} as the string {@code "name"}, so a file using them (merge keys {@code <<: *base} included)
 * would silently run as a different configuration. SnakeYAML's own alias and nesting limits apply
 * only when it composes documents, which Jackson does not use: both are checked here.
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
    try (InputStream in = Files.newInputStream(file)) {
      return read(file, in, maxBytes);
    }
  }

  /**
   * Reads YAML already in memory (for example inflated from a {@code .yml.gz}) with the same limits
   * and refusals as {@link #read(Path, long)}; {@code name} names it in messages.
   */
  public JsonNode read(Path name, byte[] content, long maxBytes) throws IOException {
    if (content.length > maxBytes) {
      throw new ConfigFileException(
          name, 0, 0, content.length + " bytes exceed the limit of " + maxBytes, null);
    }
    return read(name, new java.io.ByteArrayInputStream(content), maxBytes);
  }

  private JsonNode read(Path file, InputStream in, long maxBytes) throws IOException {
    LoaderOptions options = new LoaderOptions();
    options.setMaxAliasesForCollections(MAX_ALIASES);
    options.setAllowDuplicateKeys(false);
    options.setNestingDepthLimit(MAX_NESTING);
    options.setCodePointLimit((int) Math.min(Integer.MAX_VALUE, Math.max(maxBytes, 1)));
    YAMLFactory factory = YAMLFactory.builder().loaderOptions(options).build();
    ObjectMapper mapper = Json.strictMapper(factory);
    try {
      JsonNode node = Json.read(mapper, new CheckingParser(file, factory.createParser(in)));
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

  /** Refuses, where they are, what Jackson's YAML parser lets through: aliases, deep nesting. */
  private static final class CheckingParser extends JsonParserDelegate {
    private final Path file;
    private final YAMLParser yaml;

    CheckingParser(Path file, YAMLParser yaml) {
      super(yaml);
      this.file = file;
      this.yaml = yaml;
    }

    @Override
    public @Nullable JsonToken nextToken() throws IOException {
      JsonToken token = super.nextToken();
      if (token == null) {
        return null;
      }
      if (yaml.isCurrentAlias()) {
        throw refuse(
            "YAML aliases (*"
                + yaml.getText()
                + ") are not supported: write the value out instead of referring to an anchor");
      }
      if (token.isStructStart() && yaml.getParsingContext().getNestingDepth() > MAX_NESTING) {
        throw refuse("nesting deeper than " + MAX_NESTING + " levels");
      }
      return token;
    }

    @Override
    public @Nullable JsonToken nextValue() throws IOException {
      JsonToken token = nextToken(); // not the delegate's, which would skip the checks
      return token == JsonToken.FIELD_NAME ? nextToken() : token;
    }

    private ConfigFileException refuse(String problem) {
      JsonLocation at = yaml.currentTokenLocation();
      return new ConfigFileException(file, at.getLineNr(), at.getColumnNr(), problem, null);
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
