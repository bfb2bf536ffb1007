package dev.configsync.cp.etcd;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.GZIPOutputStream;

/** What a control plane stores for a publish, in the tests: a small gzip reconfigure frame. */
final class TestFrames {
  private TestFrames() {}

  /** A gzip {@code reconfigure} frame announcing {@code hash}, with an empty table. */
  static byte[] reconfigure(String hash) throws IOException {
    return gzip("{\"type\":\"reconfigure\",\"config_hash\":\"" + hash + "\",\"config_table\":{}}");
  }

  /**
   * A gzip {@code reconfigure} frame announcing {@code hash} whose table holds random hex of {@code
   * hexChars} characters: the frame is about half that size, whatever compression does.
   */
  static byte[] reconfigure(String hash, int hexChars, long seed) throws IOException {
    java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
    StringBuilder hex = new StringBuilder(hexChars + 16);
    while (hex.length() < hexChars) {
      hex.append(Long.toHexString(random.nextLong()));
    }
    return gzip(
        "{\"type\":\"reconfigure\",\"config_hash\":\""
            + hash
            + "\",\"config_table\":{\"filler\":\""
            + hex
            + "\"}}");
  }

  private static byte[] gzip(String text) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(bytes)) {
      gzip.write(text.getBytes(StandardCharsets.UTF_8));
    }
    return bytes.toByteArray();
  }
}
