package dev.configsync.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;

/**
 * The JSON set-up shared by configsync modules. Not API.
 *
 * <p>Configurations are parsed with explicit limits (nesting depth, string and number length) so
 * that hostile input fails fast with a parse error instead of exhausting the stack or the heap,
 * with duplicate keys refused (two keys with one name make the configuration hash ambiguous), and
 * into {@linkplain FrozenNodes frozen} trees that can be shared between threads.
 */
public final class Json {
  /** Deepest nesting accepted in a configuration. */
  public static final int MAX_NESTING_DEPTH = 1_000;

  /** Longest number literal accepted, in characters. */
  public static final int MAX_NUMBER_LENGTH = 1_000;

  /** Longest string accepted, in characters. */
  public static final int MAX_STRING_LENGTH = 64 * 1024 * 1024;

  /** For binding configurations to user types: unknown properties are ignored. */
  public static final ObjectMapper BINDER =
      JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  /** For writing protocol messages. */
  public static final ObjectMapper WRITER = new ObjectMapper();

  private static final ObjectMapper PARSER = strictMapper(new JsonFactory());

  private Json() {}

  /**
   * A mapper over {@code factory} with configsync's parsing limits and frozen trees; used for JSON
   * here and for YAML by the cache module. It never closes a stream it reads from.
   */
  public static ObjectMapper strictMapper(JsonFactory factory) {
    factory.setStreamReadConstraints(
        StreamReadConstraints.builder()
            .maxNestingDepth(MAX_NESTING_DEPTH)
            .maxNumberLength(MAX_NUMBER_LENGTH)
            .maxStringLength(MAX_STRING_LENGTH)
            .build());
    factory.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    // Callers own their streams: the payload decoder reads on after the JSON, to the gzip trailer.
    factory.disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);
    ObjectMapper mapper = new ObjectMapper(factory);
    mapper.enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    mapper.setNodeFactory(FrozenNodes.FACTORY);
    return mapper;
  }

  /**
   * Reads one JSON value from {@code in} into a frozen tree. Does not close {@code in}.
   *
   * @throws IOException on malformed JSON or a broken limit
   */
  public static JsonNode readFrozen(InputStream in) throws IOException {
    JsonNode node = PARSER.readTree(in);
    if (node == null) {
      throw new com.fasterxml.jackson.core.JsonParseException(null, "no JSON content");
    }
    return FrozenNodes.freeze(node);
  }

  /** Reads one JSON value from {@code json} into a frozen tree. */
  public static JsonNode readFrozen(byte[] json) throws IOException {
    JsonNode node = PARSER.readTree(json);
    if (node == null || node.isMissingNode()) {
      throw new com.fasterxml.jackson.core.JsonParseException(null, "no JSON content");
    }
    return FrozenNodes.freeze(node);
  }
}
