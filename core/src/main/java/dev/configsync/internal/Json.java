package dev.configsync.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

  /**
   * Longest string (or number literal, which the parser buffers the same way before it checks the
   * number length) accepted, in characters: 16 Mi, as long as the largest compressed payload by
   * default. The parser holds such a string in {@code char} buffers, two bytes a character, before
   * it can tell that it is too long: a hostile one costs at most about 32 MiB before it is refused.
   */
  public static final int MAX_STRING_LENGTH = 16 * 1024 * 1024;

  /** For binding configurations to user types: unknown properties are ignored. */
  public static final ObjectMapper BINDER =
      JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  /** For writing protocol messages. */
  public static final ObjectMapper WRITER = new ObjectMapper();

  private static final ObjectMapper PARSER = strictMapper(new JsonFactory());

  /**
   * {@link #PARSER} without the parser's duplicate detection, which keeps a set of names per object
   * (about a tenth of the parse). The tree notices duplicates instead, for free, as it is built
   * ({@link FrozenNodes.Batch#sawDuplicateKeys}); a document that has one is read again with {@link
   * #PARSER}, so that the error is the same, at the same place.
   */
  private static final ObjectMapper FAST = strictMapper(new JsonFactory());

  static {
    FAST.getFactory().disable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
  }

  /** Where a document can be read from more than once. */
  @FunctionalInterface
  public interface Source {
    /** Opens the document from its start; the caller closes the stream. */
    InputStream open() throws IOException;
  }

  /** What Jackson quotes from a document in its messages: a token, a field name. */
  private static final Pattern QUOTED = Pattern.compile("'([^']*)'");

  private static final Set<String> LITERALS = Set.of("null", "true", "false");

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
   * @throws IOException on malformed JSON or a broken limit, with the place it was found
   */
  public static JsonNode readFrozen(InputStream in) throws IOException {
    return frozen(PARSER.createParser(in), FrozenNodes.batch());
  }

  /**
   * As {@link #readFrozen(InputStream)}, faster (no set of names per object). When the document
   * turns out to have a duplicate key, it is read again from {@code again} (the same document), to
   * report that key exactly as the parser does.
   *
   * @throws IOException on malformed JSON or a broken limit, with the place it was found, or what
   *     reading {@code in} threw
   */
  public static JsonNode readFrozen(InputStream in, Source again) throws IOException {
    FrozenNodes.Batch batch = FrozenNodes.batch();
    try {
      return frozen(FAST.createParser(in), batch);
    } catch (IOException | RuntimeException e) {
      if (!batch.sawDuplicateKeys()) {
        throw e;
      }
      // The duplicate came first: report it, as the strict parser would have, instead.
    }
    try (InputStream second = again.open()) {
      return strictOrDuplicate(PARSER.createParser(second));
    }
  }

  /**
   * Jackson's description of a parse error, with what it quotes from the document (an unrecognized
   * token, a duplicate field name) replaced by its length, and the line and column where known: a
   * configuration may hold secrets, and this text goes to logs and events. Single characters and
   * the JSON literals are kept ({@code Unexpected character ('x' (code 120))}).
   */
  public static String describeWithoutContent(JsonProcessingException e) {
    String original = e.getOriginalMessage();
    StringBuilder out =
        new StringBuilder(
            withoutQuotedContent(original == null ? e.getClass().getSimpleName() : original));
    JsonLocation at = e.getLocation();
    if (at != null && at.getLineNr() > 0) {
      out.append(" (line ").append(at.getLineNr()).append(", column ").append(at.getColumnNr());
      out.append(')');
    }
    return out.toString();
  }

  /**
   * {@code message} (one of Jackson's) with the text it quotes from a document replaced by its
   * length, as {@link #describeWithoutContent} does, without a location.
   */
  public static String withoutQuotedContent(String message) {
    StringBuilder out = new StringBuilder();
    Matcher m = QUOTED.matcher(message);
    while (m.find()) {
      String quoted = m.group(1);
      boolean harmless = quoted.length() <= 1 || LITERALS.contains(quoted);
      m.appendReplacement(
          out,
          Matcher.quoteReplacement(
              harmless ? m.group() : "<" + quoted.length() + " characters, not shown>"));
    }
    m.appendTail(out);
    return out.toString();
  }

  /** Reads one JSON value from {@code json} into a frozen tree. */
  public static JsonNode readFrozen(byte[] json) throws IOException {
    FrozenNodes.Batch batch = FrozenNodes.batch();
    try {
      return frozen(FAST.createParser(json), batch);
    } catch (IOException | RuntimeException e) {
      if (!batch.sawDuplicateKeys()) {
        throw e;
      }
    }
    return strictOrDuplicate(PARSER.createParser(json));
  }

  /**
   * Reads, with the strict parser, a document known to hold a duplicate key: the parser's error is
   * thrown (a document that has another error before the duplicate fails with that one).
   */
  private static JsonNode strictOrDuplicate(JsonParser parser) throws IOException {
    FrozenNodes.Batch batch = FrozenNodes.batch();
    frozen(parser, batch);
    // Not reached: the strict parser refuses the duplicate the tree saw.
    throw new JsonParseException(parser, "Duplicate field name in the document");
  }

  /**
   * Reads one value into a tree of {@code batch}'s nodes and freezes it. The tree comes from the
   * parser alone, so the batch freezes it without a second walk.
   */
  private static JsonNode frozen(JsonParser parser, FrozenNodes.Batch batch) throws IOException {
    JsonNode node = read(PARSER.reader().with(batch.factory()), parser);
    if (node.isMissingNode()) {
      throw new JsonParseException(parser, "no JSON content");
    }
    if (batch.sawDuplicateKeys()) {
      throw new JsonParseException(parser, "Duplicate field name in the document");
    }
    return batch.freeze(node);
  }

  /**
   * Reads one value from {@code parser} with {@code mapper} (one from {@link #strictMapper}),
   * refusing anything after the value, and closes the parser. A broken parser limit (nesting,
   * string or number length) is reported with where the parser was when it gave up, which Jackson's
   * own exception leaves out. The tree is not frozen.
   *
   * @return the value, a missing node when the input holds none
   * @throws IOException on malformed input or a broken limit
   */
  public static JsonNode read(ObjectMapper mapper, JsonParser parser) throws IOException {
    return read(mapper.reader(), parser);
  }

  /** As {@link #read(ObjectMapper, JsonParser)}, with a reader of such a mapper. */
  static JsonNode read(ObjectReader reader, JsonParser parser) throws IOException {
    JsonNodeFactory nodes = reader.getConfig().getNodeFactory();
    try (parser) {
      JsonNode node;
      try {
        if (parser.nextToken() == null) {
          return nodes.missingNode();
        }
        node = reader.readValue(parser, JsonNode.class);
      } catch (StreamConstraintsException e) {
        if (e.getLocation() != null) {
          throw e;
        }
        StreamConstraintsException located =
            new StreamConstraintsException(e.getOriginalMessage(), parser.currentLocation());
        located.setStackTrace(e.getStackTrace()); // where the limit was hit, not this line
        throw located;
      }
      return node == null ? nodes.nullNode() : node;
    }
  }
}
