package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.BinaryNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class CanonicalJsonTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final JsonNodeFactory F = JsonNodeFactory.instance;

  @Test
  void sortsKeysAtEveryLevelAndDropsWhitespace() {
    String json =
        "{ \"b\" : \"2\",\n \"a\" : { \"d\" : [ 1 , true , null , { \"z\":1, \"y\":[] } ], \"c\":\"x\" } }";

    assertThat(CanonicalJson.canonicalString(json(json)))
        .isEqualTo("{\"a\":{\"c\":\"x\",\"d\":[1,true,null,{\"y\":[],\"z\":1}]},\"b\":\"2\"}");
  }

  @Test
  void keysSortByUtf16CodeUnitsNotByCodePoints() {
    // U+00E9 < U+1F600 (surrogates D83D DE00) < U+FF5A in UTF-16 order; by code point U+FF5A would
    // come before U+1F600.
    ObjectNode object = F.objectNode();
    object.put("\uFF5A", "3");
    object.put("\uD83D\uDE00", "2");
    object.put("\u00E9", "1");
    object.put("Z", "0");

    assertThat(CanonicalJson.canonicalString(object))
        .isEqualTo("{\"Z\":\"0\",\"\u00E9\":\"1\",\"\uD83D\uDE00\":\"2\",\"\uFF5A\":\"3\"}");
  }

  @Test
  void escapesOnlyQuoteBackslashAndControlCharacters() {
    String value = "\"\\/\b\f\n\r\t\u0000\u0001\u001f\u007f é 😀 \u2028";

    byte[] bytes = CanonicalJson.canonicalBytes(F.textNode(value));

    assertThat(new String(bytes, UTF_8))
        .isEqualTo("\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\u007f é 😀 \u2028\"");
    assertThat(bytes).startsWith('"', '\\', '"').doesNotContain((byte) 0xEF, (byte) 0xBB);
  }

  @Test
  void integersArePlainDecimal() {
    assertThat(
            CanonicalJson.canonicalString(json("[0, -0, 7, -42, 123456789012345678901234567890]")))
        .isEqualTo("[0,0,7,-42,123456789012345678901234567890]");
  }

  @Test
  void refusesNumbersWithFractionOrExponent() {
    for (String number : List.of("1.5", "1.0", "1e3", "-0.0")) {
      assertThatThrownBy(() -> CanonicalJson.canonicalBytes(json("{\"n\":" + number + "}")))
          .as(number)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not an integer");
    }
  }

  @Test
  void refusesUnpairedSurrogatesAndNonJsonNodes() {
    assertThatThrownBy(() -> CanonicalJson.canonicalBytes(F.textNode("a\uD800b")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("surrogate");
    assertThatThrownBy(() -> CanonicalJson.canonicalBytes(BinaryNode.valueOf(new byte[] {1})))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refusesNestingDeeperThanTheParserAllows() {
    JsonNode deep = F.arrayNode();
    for (int i = 0; i < Json.MAX_NESTING_DEPTH + 1; i++) {
      deep = F.arrayNode().add(deep);
    }
    JsonNode tooDeep = deep;

    assertThatThrownBy(() -> CanonicalJson.canonicalBytes(tooDeep))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nested deeper");
  }

  @Property(tries = 300)
  void keyOrderAndWhitespaceDoNotMatter(
      @ForAll("trees") JsonNode tree, @ForAll long seed, @ForAll boolean pretty)
      throws IOException {
    JsonNode shuffled = shuffle(tree, new Random(seed));
    String text =
        pretty
            ? MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(shuffled)
            : MAPPER.writeValueAsString(shuffled);

    assertThat(CanonicalJson.canonicalBytes(Json.readFrozen(text.getBytes(UTF_8))))
        .isEqualTo(CanonicalJson.canonicalBytes(tree));
  }

  @Property(tries = 300)
  void canonicalFormIsJsonAndAFixedPoint(@ForAll("trees") JsonNode tree) throws IOException {
    byte[] canonical = CanonicalJson.canonicalBytes(tree);

    assertThat(CanonicalJson.canonicalBytes(Json.readFrozen(canonical))).isEqualTo(canonical);
  }

  /** Cross-check: Jackson writing key-sorted maps gives the same bytes where it escapes alike. */
  @Property(tries = 300)
  void agreesWithJacksonWritingSortedMapsForPrintableStrings(
      @ForAll("printableTrees") JsonNode tree) throws JsonProcessingException {
    ObjectMapper sorting =
        new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    assertThat(CanonicalJson.canonicalBytes(tree))
        .isEqualTo(sorting.writeValueAsBytes(toTreeMaps(tree)));
  }

  // ---------------------------------------------------------------- helpers

  @Provide
  Arbitrary<JsonNode> trees() {
    return tree(Arbitraries.strings().ofMaxLength(8), 3);
  }

  @Provide
  Arbitrary<JsonNode> printableTrees() {
    return tree(
        Arbitraries.strings()
            .withCharRange(' ', '~')
            .withCharRange('\u00A0', '\u07FF')
            .ofMaxLength(8),
        3);
  }

  private static Arbitrary<JsonNode> tree(Arbitrary<String> strings, int depth) {
    Arbitrary<JsonNode> leaf =
        Arbitraries.oneOf(
            strings.map(F::textNode),
            Arbitraries.longs().map(F::numberNode),
            Arbitraries.bigIntegers().map(F::numberNode),
            Arbitraries.of(true, false).map(F::booleanNode),
            Arbitraries.just(F.nullNode()));
    if (depth == 0) {
      return leaf;
    }
    Arbitrary<JsonNode> child = tree(strings, depth - 1);
    Arbitrary<JsonNode> array =
        child.list().ofMaxSize(4).map(items -> (JsonNode) F.arrayNode().addAll(items));
    Arbitrary<JsonNode> object =
        Arbitraries.maps(strings, child)
            .ofMaxSize(4)
            .map(
                fields -> {
                  ObjectNode node = F.objectNode();
                  fields.forEach(node::set);
                  return node;
                });
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(3, leaf),
        net.jqwik.api.Tuple.of(1, array),
        net.jqwik.api.Tuple.of(2, object));
  }

  private static JsonNode shuffle(JsonNode node, Random random) {
    if (node.isObject()) {
      List<Map.Entry<String, JsonNode>> fields = new ArrayList<>();
      node.properties().forEach(fields::add);
      Collections.shuffle(fields, random);
      ObjectNode copy = F.objectNode();
      fields.forEach(e -> copy.set(e.getKey(), shuffle(e.getValue(), random)));
      return copy;
    }
    if (node.isArray()) {
      List<JsonNode> items = new ArrayList<>();
      node.forEach(item -> items.add(shuffle(item, random)));
      return F.arrayNode().addAll(items);
    }
    return node;
  }

  private static Object toTreeMaps(JsonNode node) {
    if (node.isObject()) {
      Map<String, Object> map = new TreeMap<>();
      node.properties().forEach(e -> map.put(e.getKey(), toTreeMaps(e.getValue())));
      return map;
    }
    if (node.isArray()) {
      List<Object> list = new ArrayList<>();
      node.forEach(item -> list.add(toTreeMaps(item)));
      return list;
    }
    return node;
  }

  private static JsonNode json(String text) {
    try {
      return Json.readFrozen(text.getBytes(UTF_8));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }
}
