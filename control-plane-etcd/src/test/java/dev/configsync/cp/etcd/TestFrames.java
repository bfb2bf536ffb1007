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
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gzip = new GZIPOutputStream(bytes)) {
      gzip.write(
          ("{\"type\":\"reconfigure\",\"config_hash\":\"" + hash + "\",\"config_table\":{}}")
              .getBytes(StandardCharsets.UTF_8));
    }
    return bytes.toByteArray();
  }
}
