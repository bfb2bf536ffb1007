package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BigIntegerNode;
import com.fasterxml.jackson.databind.node.BinaryNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DecimalNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.FloatNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.POJONode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.configsync.ConfigHashes;
import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ConfigHashTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final JsonNodeFactory F = JsonNodeFactory.instance;
  private static final String NONE = "00000000000000000000000000000000";
  private static final String EMPTY_TABLE_HASH = "99914b932bd37a50b983c5e7c90ae93b";

  // ---------------------------------------------------------------- published vectors

  @Test
  void jsonNullTableHashesAsNullMarker() {
    ConfigHashes hashes = ConfigHash.configHashes(json("null"));

    assertThat(hashes.config()).isEqualTo("5bf07a8b7343015026657d1108d8206e");
    assertThat(List.of(hashes.routes(), hashes.services(), hashes.plugins())).containsOnly(NONE);
    assertThat(List.of(hashes.upstreams(), hashes.targets())).containsOnly(NONE);
  }

  @Test
  void stringTableHashesAsItsBytes() {
    assertThat(ConfigHash.configHash(json("\"hello\"")))
        .isEqualTo("5d41402abc4b2a76b9719d911017c592");
  }

  @Test
  void emptyTableHasPublishedHash() {
    ConfigHashes hashes = ConfigHash.configHashes(json("{}"));

    assertThat(hashes)
        .isEqualTo(
            new ConfigHashes("2da3c26e4dbd6dd6ea3ab60a3dd7fb3e", NONE, NONE, NONE, NONE, NONE));
  }

  @Test
  void tableWithEmptyRoutesServicesPluginsHasPublishedHashes() {
    ConfigHashes hashes =
        ConfigHash.configHashes(json("{\"routes\":{},\"services\":{},\"plugins\":{}}"));

    assertThat(hashes)
        .isEqualTo(
            new ConfigHashes(
                "81aac97a81ad03c0cf0b36663806488e",
                EMPTY_TABLE_HASH,
                EMPTY_TABLE_HASH,
                EMPTY_TABLE_HASH,
                NONE,
                NONE));
  }

  // ---------------------------------------------------------------- absent values and scalars

  @Test
  void absentValueHashesToZeros() {
    assertThat(ConfigHash.NONE).isEqualTo(NONE);
    assertThat(ConfigHash.hash(null)).isEqualTo(NONE);
    assertThat(ConfigHash.hash(MissingNode.getInstance())).isEqualTo(NONE);
    assertThat(ConfigHash.configHashes(null))
        .isEqualTo(new ConfigHashes(NONE, NONE, NONE, NONE, NONE, NONE));
    assertThat(ConfigHash.configHash(MissingNode.getInstance())).isEqualTo(NONE);
  }

  @Test
  void jsonNullIsWrittenAsSlashNullSlash() {
    assertThat(ConfigHash.hash(NullNode.getInstance())).isEqualTo(md5Hex("/null/"));
  }

  @Test
  void stringIsWrittenAsRawUtf8WithoutQuotesOrEscapes() {
    String s = "h\u00e9llo \u4e2d \"q\" \\ \n \ud83d\ude00";
    assertThat(ConfigHash.hash(TextNode.valueOf(s))).isEqualTo(md5Hex(s));
    assertThat(ConfigHash.hash(TextNode.valueOf(""))).isEqualTo(md5Hex(""));
  }

  @Test
  void unpairedSurrogatesAreWrittenAsQuestionMarksLikeGetBytes() {
    String s = "a\ud800b\udc00c\ud83d";
    assertThat(s.getBytes(UTF_8)).isEqualTo("a?b?c?".getBytes(US_ASCII));
    assertThat(ConfigHash.hash(TextNode.valueOf(s))).isEqualTo(md5Hex("a?b?c?"));
  }

  @Test
  void stringsStraddlingInternalChunkBoundariesEncodeLikeGetBytes() {
    for (int pad = 8_180; pad <= 8_200; pad++) {
      String s = ("a".repeat(pad) + "\u00e9\u4e2d\ud83d\ude00\ud800" + "b".repeat(10)).repeat(3);
      assertThat(ConfigHash.hash(TextNode.valueOf(s))).as("pad %d", pad).isEqualTo(md5Hex(s));
    }
  }

  @Test
  void booleansAreWrittenAsWords() {
    assertThat(ConfigHash.hash(BooleanNode.TRUE)).isEqualTo(md5Hex("true"));
    assertThat(ConfigHash.hash(BooleanNode.FALSE)).isEqualTo(md5Hex("false"));
  }

  @Test
  void numberIsWrittenInPercent14gForm() {
    assertThat(ConfigHash.hash(json("123456789012345"))).isEqualTo(md5Hex("1.2345678901234e+14"));
    assertThat(ConfigHash.hash(json("0.00001"))).isEqualTo(md5Hex("1e-05"));
    assertThat(ConfigHash.hash(json("-0.0"))).isEqualTo(md5Hex("-0"));
    assertThat(ConfigHash.hash(json("8000"))).isEqualTo(md5Hex("8000"));
    assertThat(ConfigHash.hash(json("-42"))).isEqualTo(md5Hex("-42"));
  }

  @Test
  void integerAndItsDoubleFormHashAlike() {
    String one = md5Hex("1");
    assertThat(ConfigHash.hash(IntNode.valueOf(1))).isEqualTo(one);
    assertThat(ConfigHash.hash(LongNode.valueOf(1))).isEqualTo(one);
    assertThat(ConfigHash.hash(DoubleNode.valueOf(1.0))).isEqualTo(one);
    assertThat(ConfigHash.hash(FloatNode.valueOf(1.0f))).isEqualTo(one);
    assertThat(ConfigHash.hash(DecimalNode.valueOf(new BigDecimal("1.000")))).isEqualTo(one);
    assertThat(ConfigHash.hash(BigIntegerNode.valueOf(BigInteger.ONE))).isEqualTo(one);
    assertThat(ConfigHash.hash(json("1"))).isEqualTo(ConfigHash.hash(json("1.0")));

    String big = md5Hex("1.2345678901234e+14");
    assertThat(ConfigHash.hash(LongNode.valueOf(123456789012345L))).isEqualTo(big);
    assertThat(ConfigHash.hash(DoubleNode.valueOf(123456789012345.0))).isEqualTo(big);
    assertThat(ConfigHash.hash(BigIntegerNode.valueOf(BigInteger.valueOf(123456789012345L))))
        .isEqualTo(big);
    assertThat(ConfigHash.hash(json("12345678901234567890123")))
        .isEqualTo(md5Hex("1.2345678901235e+22"));
  }

  // ---------------------------------------------------------------- %.14g formatter

  static List<Arguments> percent14gCases() {
    // Expected strings checked against glibc's printf("%.14g").
    return List.of(
        Arguments.of(0.0, "0"),
        Arguments.of(-0.0, "-0"),
        Arguments.of(1.0, "1"),
        Arguments.of(-1.5, "-1.5"),
        Arguments.of(1.1, "1.1"),
        Arguments.of(0.1, "0.1"),
        Arguments.of(0.5, "0.5"),
        Arguments.of(0.1 + 0.2, "0.3"),
        Arguments.of(100.0, "100"),
        Arguments.of(-123.0, "-123"),
        Arguments.of(123456.789, "123456.789"),
        Arguments.of(1.0 / 3, "0.33333333333333"),
        Arguments.of(2.0 / 3, "0.66666666666667"),
        Arguments.of(3.14159265358979, "3.1415926535898"),
        Arguments.of(0.0001, "0.0001"),
        Arguments.of(0.00015, "0.00015"),
        Arguments.of(0.000123456789012345, "0.00012345678901234"),
        Arguments.of(0.00001, "1e-05"),
        Arguments.of(2.5e-5, "2.5e-05"),
        Arguments.of(-1e-6, "-1e-06"),
        // rounds up to 1.0000000000000e-4, so plain notation
        Arguments.of(9.999999999999996e-5, "0.0001"),
        Arguments.of(9.99999999999994e-5, "9.9999999999999e-05"),
        Arguments.of(99999999999999.0, "99999999999999"),
        // rounds (half to even) up to 1.0000000000000e+14, so exponent notation
        Arguments.of(99999999999999.5, "1e+14"),
        Arguments.of(1e14, "1e+14"),
        Arguments.of(123456789012345.0, "1.2345678901234e+14"),
        Arguments.of(12345678901234.5, "12345678901234"),
        Arguments.of(12345678901235.5, "12345678901236"),
        Arguments.of(1e15, "1e+15"),
        Arguments.of(9007199254740992.0, "9.007199254741e+15"),
        Arguments.of(1.2345678901234568e17, "1.2345678901235e+17"),
        Arguments.of(1e21, "1e+21"),
        Arguments.of(1.5e100, "1.5e+100"),
        Arguments.of(1e300, "1e+300"),
        Arguments.of(-1e-300, "-1e-300"),
        Arguments.of(Double.MIN_VALUE, "4.9406564584125e-324"),
        Arguments.of(Double.MAX_VALUE, "1.7976931348623e+308"),
        Arguments.of(Double.NaN, "nan"),
        Arguments.of(Double.POSITIVE_INFINITY, "inf"),
        Arguments.of(Double.NEGATIVE_INFINITY, "-inf"));
  }

  @ParameterizedTest
  @MethodSource("percent14gCases")
  void formatterMatchesCPercent14g(double value, String expected) {
    assertThat(ConfigHash.formatNumber(value)).isEqualTo(expected);
  }

  @Property(tries = 1000)
  void formatterRoundsExactValueToFourteenDigitsInPercentGLayout(
      @ForAll("finiteDoubles") double value) {
    String text = ConfigHash.formatNumber(value);
    BigDecimal exact14 = new BigDecimal(value).round(new MathContext(14, RoundingMode.HALF_EVEN));

    assertThat(new BigDecimal(text)).isEqualByComparingTo(exact14);
    String mantissa = text.contains("e") ? text.substring(0, text.indexOf('e')) : text;
    if (mantissa.contains(".")) {
      assertThat(mantissa).doesNotEndWith("0").doesNotEndWith(".");
    }
    if (value != 0) {
      int exponent = exact14.precision() - exact14.scale() - 1;
      assertThat(text.contains("e")).isEqualTo(exponent < -4 || exponent >= 14);
      if (text.contains("e")) {
        assertThat(text).matches("-?[1-9](\\.[0-9]*[1-9])?e[+-][0-9]{2,3}");
      }
    }
  }

  @Provide
  Arbitrary<Double> finiteDoubles() {
    return Arbitraries.oneOf(
        Arbitraries.longs().map(Double::longBitsToDouble).filter(Double::isFinite),
        Arbitraries.longs()
            .between(-99_999_999_999_999L, 99_999_999_999_999L)
            .flatMap(
                digits ->
                    Arbitraries.integers()
                        .between(-330, 310)
                        .map(exp -> Double.parseDouble(digits + "e" + exp)))
            .filter(Double::isFinite),
        Arbitraries.doubles().between(-1e6, 1e6).ofScale(4));
  }

  // ---------------------------------------------------------------- arrays and objects

  @Test
  void arrayOfOneToFiveElementsIsJoinedBySemicolons() {
    assertThat(ConfigHash.hash(json("[\"a\"]"))).isEqualTo(md5Hex("a"));
    assertThat(ConfigHash.hash(json("[\"a\",\"b\"]"))).isEqualTo(md5Hex("a;b"));
    assertThat(ConfigHash.hash(json("[\"a\",\"b\",\"c\",\"d\",\"e\"]")))
        .isEqualTo(md5Hex("a;b;c;d;e"));
  }

  @Test
  void arrayOfSixOrMoreElementsEndsEveryElementWithSemicolon() {
    assertThat(ConfigHash.hash(json("[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]")))
        .isEqualTo(md5Hex("a;b;c;d;e;f;"));
    assertThat(ConfigHash.hash(json("[1,2,3,4,5,6,7]"))).isEqualTo(md5Hex("1;2;3;4;5;6;7;"));
  }

  @Test
  void emptyArrayHashesLikeEmptyObject() {
    assertThat(ConfigHash.hash(json("[]")))
        .isEqualTo(ConfigHash.hash(json("{}")))
        .isEqualTo(md5Hex("{}"))
        .isEqualTo(EMPTY_TABLE_HASH);
    assertThat(ConfigHash.hash(json("{\"a\":[],\"b\":{}}"))).isEqualTo(md5Hex("a:{};b:{};"));
  }

  @Test
  void nestedObjectsAndArraysAreWrittenDepthFirstWithSortedKeys() {
    JsonNode value =
        json("{\"b\":{\"y\":1,\"x\":[true,null]},\"a\":\"s\",\"c\":[[1,2],{\"k\":false}]}");

    assertThat(ConfigHash.hash(value))
        .isEqualTo(md5Hex("a:s;b:x:true;/null/;y:1;;c:1;2;k:false;;"));
  }

  @Test
  void objectKeysAreOrderedByUnsignedUtf8Bytes() {
    ObjectNode object = F.objectNode();
    for (String key :
        List.of("\ud83d\ude00", "z", "\ufffd", "b", "\u4e2d", "B", "aa", "\u00e9", "a", "_", "A")) {
      object.put(key, 1);
    }
    // Bytes: A=41 B=42 _=5f a=61 aa b=62 z=7a é=c3a9 中=e4b8ad U+FFFD=efbfbd 😀=f09f9880.
    // (UTF-16 order, as String.compareTo uses, would put the emoji before U+FFFD.)
    String expected = "A:1;B:1;_:1;a:1;aa:1;b:1;z:1;\u00e9:1;\u4e2d:1;\ufffd:1;\ud83d\ude00:1;";

    assertThat(ConfigHash.hash(object)).isEqualTo(md5Hex(expected));
  }

  @Test
  void missingNodeInsideObjectCountsAsAbsentKey() {
    ObjectNode object = F.objectNode();
    object.put("a", 1);
    object.set("gone", MissingNode.getInstance());

    assertThat(ConfigHash.hash(object)).isEqualTo(md5Hex("a:1;"));
  }

  @Test
  void nodesJsonCannotExpressAreRejected() {
    ArrayNode withMissing = F.arrayNode().add(1);
    withMissing.add(MissingNode.getInstance());

    assertThatThrownBy(() -> ConfigHash.hash(new POJONode(new Object())))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ConfigHash.hash(BinaryNode.valueOf(new byte[] {1})))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ConfigHash.hash(withMissing))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void longKeysAndStringsLargerThanInternalChunksHashLikeReference() {
    ObjectNode object = F.objectNode();
    object.put("k".repeat(20_000), "v\u00e9\ud83d\ude00".repeat(9_000));
    object.put("\u4e2d".repeat(5_000), 1.5);

    assertThat(ConfigHash.hash(object)).isEqualTo(refHash(object));
  }

  // ---------------------------------------------------------------- configuration hash

  @Test
  void configHashCombinesGranularHashesWithHashOfTheRest() {
    JsonNode table =
        json(
            "{\"_format_version\":\"3.0\",\"routes\":[{\"name\":\"r\",\"paths\":[\"/\"]}],"
                + "\"services\":[{\"name\":\"s\",\"port\":80}],\"upstreams\":[],"
                + "\"targets\":null,\"consumers\":[{\"username\":\"u\"}]}");

    String routes = md5Hex("name:r;paths:/;");
    String services = md5Hex("name:s;port:80;");
    String upstreams = md5Hex("{}");
    String targets = md5Hex("/null/");
    String rest = md5Hex("_format_version:3.0;consumers:username:u;;");
    String config = md5Hex(routes + services + NONE + upstreams + targets + rest);

    assertThat(ConfigHash.configHashes(table))
        .isEqualTo(new ConfigHashes(config, routes, services, NONE, upstreams, targets));
    assertThat(ConfigHash.configHash(table)).isEqualTo(config);
  }

  @Test
  void configHashLeavesTheTableUnchanged() {
    JsonNode table = json("{\"routes\":[1],\"x\":2}");
    JsonNode copy = table.deepCopy();

    ConfigHash.configHashes(table);

    assertThat(table).isEqualTo(copy);
  }

  @Test
  void scalarTableHashesAsItselfWithEmptyGranularHashes() {
    assertThat(ConfigHash.configHashes(json("1")))
        .isEqualTo(new ConfigHashes(md5Hex("1"), NONE, NONE, NONE, NONE, NONE));
  }

  @Test
  void arrayTableTakesTheTablePathLikeKong() {
    // An array is a Lua table too: it has no routes..targets members, so the five granular hashes
    // are zeros and the rest is the whole array.
    String rest = md5Hex("a;b");
    assertThat(ConfigHash.configHashes(json("[\"a\",\"b\"]")))
        .isEqualTo(new ConfigHashes(md5Hex(NONE.repeat(5) + rest), NONE, NONE, NONE, NONE, NONE));
    assertThat(ConfigHash.configHash(json("[]"))).isEqualTo(ConfigHash.configHash(json("{}")));
  }

  // ---------------------------------------------------------------- 1,000,000-byte rule

  @Test
  void bufferOverOneMillionBytesIsReplacedByItsMd5BeforeTheNextValue() {
    String x = "x".repeat(10_000);
    ArrayNode array = F.arrayNode();
    for (int i = 0; i < 101; i++) {
      array.add(x);
    }
    // Before element 101 the buffer holds 100 * 10,001 = 1,000,100 bytes: more than the limit.
    byte[] first = (x + ";").repeat(100).getBytes(US_ASCII);
    String expected = md5Hex(concat(md5(first), (x + ";").getBytes(US_ASCII)));

    assertThat(ConfigHash.hash(array)).isEqualTo(expected).isEqualTo(refHash(array));
  }

  @Test
  void bufferOfExactlyOneMillionBytesIsKept() {
    String first = "y".repeat(999_999);
    ArrayNode array = F.arrayNode().add(first).add("z").add("w").add("v").add("u").add("t");
    // Before "z" the buffer holds 999,999 + 1 = 1,000,000 bytes: not more than the limit.
    // Before "w" it holds 1,000,002: replaced.
    byte[] kept = (first + ";z;").getBytes(US_ASCII);
    String expected = md5Hex(concat(md5(kept), "w;v;u;t;".getBytes(US_ASCII)));

    assertThat(ConfigHash.hash(array)).isEqualTo(expected).isEqualTo(refHash(array));
  }

  @Test
  void millionByteRuleAppliesBeforeNestedValuesToo() {
    ObjectNode object = F.objectNode();
    object.put("a", "x".repeat(1_000_001));
    object.set("b", F.objectNode().put("c", "y"));
    // Written so far before the value of "b": "a:" + x... + ";b:", over the limit.
    byte[] before = ("a:" + "x".repeat(1_000_001) + ";b:").getBytes(US_ASCII);
    String expected = md5Hex(concat(md5(before), "c:y;;".getBytes(US_ASCII)));

    assertThat(ConfigHash.hash(object)).isEqualTo(expected).isEqualTo(refHash(object));
  }

  @Test
  void largeTableCrossingTheLimitSeveralTimesHashesLikeReference() {
    ObjectNode table = F.objectNode();
    ArrayNode routes = table.putArray("routes");
    for (int i = 0; i < 700; i++) {
      ObjectNode route = routes.addObject();
      route.put("id", "route-" + i);
      route.put("weight", i * 0.25);
      route.putArray("paths").add("/p/" + i).add("\u00e9".repeat(2_000 + i));
      route.put("blob", "z".repeat(1_000 + (i * 37) % 3_000));
    }
    table.set("services", routes.deepCopy());
    table.put("_format_version", "3.0");

    assertThat(ConfigHash.configHashes(table)).isEqualTo(refConfigHashes(table));
  }

  // ---------------------------------------------------------------- hash shape

  @Test
  void validHashIsExactly32LowercaseHexCharacters() {
    assertThat(ConfigHash.isValidHash(NONE)).isTrue();
    assertThat(ConfigHash.isValidHash(EMPTY_TABLE_HASH)).isTrue();
    assertThat(ConfigHash.isValidHash(EMPTY_TABLE_HASH.toUpperCase(Locale.ROOT))).isFalse();
    assertThat(ConfigHash.isValidHash(EMPTY_TABLE_HASH.substring(1))).isFalse();
    assertThat(ConfigHash.isValidHash(EMPTY_TABLE_HASH + "0")).isFalse();
    assertThat(ConfigHash.isValidHash("g" + EMPTY_TABLE_HASH.substring(1))).isFalse();
    assertThat(ConfigHash.isValidHash("")).isFalse();
    assertThat(ConfigHash.isValidHash(null)).isFalse();
  }

  @Test
  void configHashesRejectsMalformedHashes() {
    assertThatThrownBy(() -> new ConfigHashes("abc", NONE, NONE, NONE, NONE, NONE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("config");
    assertThatThrownBy(() -> new ConfigHashes(NONE, NONE, NONE, NONE, NONE, NONE.replace('0', 'A')))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("targets");
  }

  // ---------------------------------------------------------------- properties

  @Property(tries = 300)
  void streamingHashEqualsReference(@ForAll("jsonTrees") JsonNode tree) {
    assertThat(ConfigHash.hash(tree)).isEqualTo(refHash(tree));
  }

  @Property(tries = 200)
  void configHashesEqualReference(@ForAll("configTables") JsonNode table) {
    assertThat(ConfigHash.configHashes(table)).isEqualTo(refConfigHashes(table));
  }

  @Provide
  Arbitrary<JsonNode> jsonTrees() {
    return tree(4);
  }

  @Provide
  Arbitrary<JsonNode> configTables() {
    Arbitrary<String> keys =
        Arbitraries.oneOf(
            Arbitraries.of("routes", "services", "plugins", "upstreams", "targets"), keys());
    return Arbitraries.maps(keys, tree(3)).ofMaxSize(8).map(ConfigHashTest::objectOf);
  }

  private static Arbitrary<JsonNode> tree(int depth) {
    if (depth == 0) {
      return leaves();
    }
    Arbitrary<JsonNode> child = tree(depth - 1);
    Arbitrary<JsonNode> arrays =
        child
            .list()
            .ofMaxSize(8)
            .map(
                list -> {
                  ArrayNode array = F.arrayNode();
                  array.addAll(list);
                  return array;
                });
    Arbitrary<JsonNode> objects =
        Arbitraries.maps(keys(), child).ofMaxSize(7).map(ConfigHashTest::objectOf);
    return Arbitraries.frequencyOf(
        Tuple.of(4, leaves()), Tuple.of(2, arrays), Tuple.of(2, objects));
  }

  private static JsonNode objectOf(Map<String, JsonNode> members) {
    ObjectNode object = F.objectNode();
    for (Map.Entry<String, JsonNode> e : members.entrySet()) {
      object.set(e.getKey(), e.getValue());
    }
    return object;
  }

  private static Arbitrary<String> keys() {
    return Arbitraries.oneOf(
        Arbitraries.of("id", "name", "Name", "_", "a", "aa", "\u00e9", "\u4e2d", "\ud83d\ude00"),
        Arbitraries.strings().ofMaxLength(4),
        Arbitraries.strings().withChars("aAzZ_:;\u00e9\u4e2d\ufffd").ofMaxLength(3));
  }

  private static Arbitrary<JsonNode> leaves() {
    return Arbitraries.oneOf(
        Arbitraries.strings().ofMaxLength(12).map(TextNode::valueOf),
        Arbitraries.integers().map(IntNode::valueOf),
        Arbitraries.longs().map(LongNode::valueOf),
        Arbitraries.longs()
            .map(Double::longBitsToDouble)
            .filter(Double::isFinite)
            .map(DoubleNode::valueOf),
        Arbitraries.doubles().between(-1e6, 1e6).ofScale(3).map(DoubleNode::valueOf),
        Arbitraries.bigIntegers()
            .between(BigInteger.TEN.pow(30).negate(), BigInteger.TEN.pow(30))
            .map(BigIntegerNode::valueOf),
        Arbitraries.bigDecimals()
            .between(new BigDecimal("-1e20"), new BigDecimal("1e20"))
            .ofScale(6)
            .map(DecimalNode::valueOf),
        Arbitraries.of(BooleanNode.TRUE, BooleanNode.FALSE),
        Arbitraries.just(NullNode.getInstance()));
  }

  // ---------------------------------------------------------------- plain reference

  /** Kong's serialization, written as plainly as possible, for comparison. */
  private static String refHash(JsonNode value) {
    if (value == null || value.isMissingNode()) {
      return NONE;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    refWrite(value, out);
    return md5Hex(out.toByteArray());
  }

  private static void refWrite(JsonNode value, ByteArrayOutputStream out) {
    if (out.size() > 1_000_000) {
      byte[] digest = md5(out.toByteArray());
      out.reset();
      out.writeBytes(digest);
    }
    if (value.isNull()) {
      out.writeBytes("/null/".getBytes(US_ASCII));
    } else if (value.isTextual()) {
      out.writeBytes(value.textValue().getBytes(UTF_8));
    } else if (value.isNumber()) {
      out.writeBytes(ConfigHash.formatNumber(value.doubleValue()).getBytes(US_ASCII));
    } else if (value.isBoolean()) {
      out.writeBytes((value.booleanValue() ? "true" : "false").getBytes(US_ASCII));
    } else if (value.isEmpty()) {
      out.writeBytes("{}".getBytes(US_ASCII));
    } else if (value.isArray()) {
      for (int i = 0; i < value.size(); i++) {
        if (value.size() <= 5 && i > 0) {
          out.write(';');
        }
        refWrite(value.get(i), out);
        if (value.size() > 5) {
          out.write(';');
        }
      }
    } else {
      List<String> keys = new ArrayList<>();
      for (Map.Entry<String, JsonNode> e : value.properties()) {
        keys.add(e.getKey());
      }
      keys.sort((a, b) -> Arrays.compareUnsigned(a.getBytes(UTF_8), b.getBytes(UTF_8)));
      for (String key : keys) {
        out.writeBytes(key.getBytes(UTF_8));
        out.write(':');
        refWrite(value.get(key), out);
        out.write(';');
      }
    }
  }

  private static ConfigHashes refConfigHashes(JsonNode table) {
    if (!table.isContainerNode()) {
      return new ConfigHashes(refHash(table), NONE, NONE, NONE, NONE, NONE);
    }
    List<String> names = List.of("routes", "services", "plugins", "upstreams", "targets");
    List<String> parts = new ArrayList<>();
    for (String name : names) {
      parts.add(refHash(table.get(name)));
    }
    JsonNode rest = table.deepCopy();
    if (rest.isObject()) {
      ((ObjectNode) rest).remove(names);
    }
    String config = md5Hex(String.join("", parts) + refHash(rest));
    return new ConfigHashes(
        config, parts.get(0), parts.get(1), parts.get(2), parts.get(3), parts.get(4));
  }

  // ---------------------------------------------------------------- helpers

  private static JsonNode json(String text) {
    try {
      return MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static byte[] md5(byte[] bytes) {
    try {
      return MessageDigest.getInstance("MD5").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String md5Hex(byte[] bytes) {
    return HexFormat.of().formatHex(md5(bytes));
  }

  private static String md5Hex(String text) {
    return md5Hex(text.getBytes(UTF_8));
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
