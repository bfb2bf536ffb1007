package dev.configsync.cp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.Json;
import java.io.IOException;

/**
 * A configuration's JSON text, read and written the one way every publish path uses ({@link
 * ControlPlaneServer#publish}, the admin API's {@code PUT /config}): refusals are {@link
 * InvalidConfigurationException}s that say where the text went wrong.
 */
final class ConfigJson {
  private ConfigJson() {}

  /**
   * A tree as JSON: the copy a publish takes of the caller's tree, or a parsed tree's frame text.
   */
  static byte[] write(JsonNode config) {
    try {
      return Json.WRITER.writeValueAsBytes(config);
    } catch (JsonProcessingException e) {
      throw new InvalidConfigurationException("the configuration cannot be written as JSON", e);
    }
  }

  /** Parses a configuration's JSON text into a frozen tree; a refusal says where it went wrong. */
  static JsonNode parse(byte[] json) {
    try {
      return Json.readFrozen(json);
    } catch (JsonProcessingException e) {
      com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
      throw new InvalidConfigurationException(
          "not valid JSON"
              + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr())
              + ": "
              + e.getOriginalMessage(),
          e);
    } catch (IOException e) {
      throw new InvalidConfigurationException("not valid JSON: " + e.getMessage(), e);
    }
  }

  /**
   * Whether {@code json}, which {@link #parse} accepted, is UTF-8 (Jackson detects UTF-16 and
   * UTF-32 by zero bytes, and skips a byte order mark), so that it can be copied into a frame as it
   * is. JSON text starts with whitespace or a bracket, both ASCII, so UTF-16 or UTF-32 text has a
   * zero byte among its first four.
   */
  static boolean isPlainUtf8(byte[] json) {
    if (json.length >= 3
        && (json[0] & 0xff) == 0xef
        && (json[1] & 0xff) == 0xbb
        && (json[2] & 0xff) == 0xbf) {
      return false;
    }
    for (int i = 0; i < Math.min(4, json.length); i++) {
      if (json[i] == 0) {
        return false;
      }
    }
    return true;
  }
}
