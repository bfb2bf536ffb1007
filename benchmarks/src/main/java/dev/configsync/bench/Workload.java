package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;

/**
 * The data of one configuration size, shared by the data plane measurements: the JSON of a
 * generated configuration table and two different {@code reconfigure} frames of that size (so that
 * consecutive applies always change the configuration). Built once per size and kept only while
 * that size is measured, since at 100 MB each piece is large.
 */
final class Workload {

  /** A plain Jackson mapper with its defaults: what a floor parses with. */
  static final ObjectMapper PLAIN = new ObjectMapper();

  private static final Object LOCK = new Object();
  private static Workload last = new Workload(0, new byte[0], new byte[0], new byte[0]);

  private final int bytes;
  private final byte[] json;
  private final byte[] frameA;
  private final byte[] frameB;

  private Workload(int bytes, byte[] json, byte[] frameA, byte[] frameB) {
    this.bytes = bytes;
    this.json = json;
    this.frameA = frameA;
    this.frameB = frameB;
  }

  /** The requested size. */
  int bytes() {
    return bytes;
  }

  /** The configuration table's JSON (frame A's {@code config_table}, byte for byte). */
  byte[] json() {
    return json;
  }

  /** The gzip {@code reconfigure} frame of {@link #json}. */
  byte[] frameA() {
    return frameA;
  }

  /** The gzip frame of another configuration of the same size (another seed). */
  byte[] frameB() {
    return frameB;
  }

  /** The workload of {@code bytes}, built on first use and kept until another size is asked. */
  static Workload of(int bytes) {
    synchronized (LOCK) {
      if (last.bytes != bytes) {
        last = new Workload(0, new byte[0], new byte[0], new byte[0]); // let the old one go first
        byte[] a = ConfigGenerator.generate(1, bytes);
        byte[] frameA = frame(a);
        byte[] frameB = frame(ConfigGenerator.generate(2, bytes));
        last = new Workload(bytes, a, frameA, frameB);
      }
      return last;
    }
  }

  /** The gzip {@code reconfigure} frame of a configuration table, as the control plane sends it. */
  static byte[] frame(byte[] tableJson) {
    try {
      JsonNode table = Json.readFrozen(tableJson);
      return HybridProtocol.reconfigure(table, System.currentTimeMillis() / 1000.0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** "1 MB", "16 MB", "64 KB": the workload column. */
  static String label(int bytes) {
    return bytes >= 1 << 20
        ? String.format(Locale.ROOT, "%d MB", bytes >> 20)
        : String.format(Locale.ROOT, "%d KB", bytes >> 10);
  }

  /** "1 MB config (gz 212 KB)". */
  String describe() {
    return label(bytes) + " config (gzip " + label(frameA.length) + ")";
  }
}
