package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.util.Map;
import java.util.TreeMap;

/**
 * The canonical bytes of a JSON value, as signed in a configsync license. Not API.
 *
 * <p>The form is fixed so that a signer and a verifier written in any language agree on it:
 *
 * <ul>
 *   <li>UTF-8, no whitespace anywhere, no byte-order mark;
 *   <li>object members sorted by key, comparing keys as sequences of UTF-16 code units (Java's
 *       {@link String#compareTo}); a key appears once;
 *   <li>array elements in their order;
 *   <li>strings in double quotes; {@code "} and {@code \} escaped as {@code \"} and {@code \\};
 *       U+0008, U+0009, U+000A, U+000C and U+000D as {@code \b}, {@code \t}, {@code \n}, {@code
 *       \f}, {@code \r}; every other character below U+0020 as {@code \}{@code u00xx} with
 *       lowercase hexadecimal digits; every other character, including {@code /} and all non-ASCII
 *       characters, as itself in UTF-8. A string with an unpaired surrogate has no canonical form;
 *   <li>{@code true}, {@code false}, {@code null};
 *   <li>numbers only as integers, in plain decimal without leading zeros, plus sign, fraction or
 *       exponent ({@code -0} as {@code 0}). A value read from a JSON number written with a fraction
 *       or an exponent ({@code 1.5}, {@code 1.0}, {@code 1e3}) has no canonical form: signers put
 *       such values in strings.
 * </ul>
 *
 * <p>For values whose integers lie within ±2<sup>53</sup>, this is the JSON Canonicalization Scheme
 * of RFC 8785, so an RFC 8785 library can produce it.
 */
public final class CanonicalJson {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private CanonicalJson() {}

  /**
   * The canonical UTF-8 bytes of {@code value}.
   *
   * @throws IllegalArgumentException when {@code value} holds something without a canonical form: a
   *     non-integer number, a string with an unpaired surrogate, binary data, a non-JSON value, or
   *     nesting deeper than {@link Json#MAX_NESTING_DEPTH}
   */
  public static byte[] canonicalBytes(JsonNode value) {
    StringBuilder out = new StringBuilder();
    write(value, 0, out);
    try {
      ByteBuffer bytes =
          UTF_8
              .newEncoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .encode(CharBuffer.wrap(out));
      byte[] result = new byte[bytes.remaining()];
      bytes.get(result);
      return result;
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(
          "a string contains an unpaired UTF-16 surrogate, which has no UTF-8 form", e);
    }
  }

  /** The canonical form of {@code value} as a string; {@link #canonicalBytes} in UTF-8. */
  public static String canonicalString(JsonNode value) {
    return new String(canonicalBytes(value), UTF_8);
  }

  private static void write(JsonNode value, int depth, StringBuilder out) {
    if (depth > Json.MAX_NESTING_DEPTH) {
      throw new IllegalArgumentException(
          "the value is nested deeper than " + Json.MAX_NESTING_DEPTH + " levels");
    }
    switch (value.getNodeType()) {
      case OBJECT -> {
        Map<String, JsonNode> sorted = new TreeMap<>();
        for (Map.Entry<String, JsonNode> field : value.properties()) {
          sorted.put(field.getKey(), field.getValue());
        }
        out.append('{');
        boolean first = true;
        for (Map.Entry<String, JsonNode> field : sorted.entrySet()) {
          if (!first) {
            out.append(',');
          }
          first = false;
          writeString(field.getKey(), out);
          out.append(':');
          write(field.getValue(), depth + 1, out);
        }
        out.append('}');
      }
      case ARRAY -> {
        out.append('[');
        for (int i = 0; i < value.size(); i++) {
          if (i > 0) {
            out.append(',');
          }
          write(value.get(i), depth + 1, out);
        }
        out.append(']');
      }
      case STRING -> writeString(value.textValue(), out);
      case BOOLEAN -> out.append(value.booleanValue() ? "true" : "false");
      case NULL -> out.append("null");
      case NUMBER -> {
        if (!value.isIntegralNumber()) {
          throw new IllegalArgumentException(
              "the number "
                  + value.asText()
                  + " is not an integer; a signed license carries other numbers as strings");
        }
        out.append(value.bigIntegerValue().toString());
      }
      default ->
          throw new IllegalArgumentException(
              "a " + value.getNodeType() + " node is not a JSON value with a canonical form");
    }
  }

  private static void writeString(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\b' -> out.append("\\b");
        case '\t' -> out.append("\\t");
        case '\n' -> out.append("\\n");
        case '\f' -> out.append("\\f");
        case '\r' -> out.append("\\r");
        default -> {
          if (c < 0x20) {
            out.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 0xF]);
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
