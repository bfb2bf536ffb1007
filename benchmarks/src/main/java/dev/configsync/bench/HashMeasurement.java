package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Kong's configuration hash of a parsed table ({@code ConfigHash.configHashes}) against the floor
 * of one MD5 over the same configuration's JSON bytes: the hash has to digest about as many bytes,
 * and walks and sorts the tree besides.
 */
final class HashMeasurement implements Measurement {
  static final double GOAL = 2.0;

  @Override
  public String name() {
    return "hash";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    List<Result> rows = new ArrayList<>();
    for (int size : mode.configBytes()) {
      Workload w = Workload.of(size);
      JsonNode table = Json.readFrozen(w.json());
      MessageDigest md5 = MessageDigest.getInstance("MD5");
      byte[][] sink = new byte[1][];
      String[] hash = new String[1];
      // MD5 and the hash are plain loops: warm both up for a while so that both are compiled.
      Timing.warmUp(() -> sink[0] = md5.digest(w.json()));
      Timing.warmUp(() -> hash[0] = ConfigHash.configHashes(table).config());
      double floor =
          Timing.medianMillis(
              mode.repetitions(), () -> Timing.time(() -> sink[0] = md5.digest(w.json())));
      double ours =
          Timing.medianMillis(
              mode.repetitions(),
              () -> Timing.time(() -> hash[0] = ConfigHash.configHashes(table).config()));
      rows.add(
          Result.relative(
              "config hash",
              w.describe(),
              "MD5 of the JSON bytes",
              floor,
              ours,
              "ms",
              GOAL,
              String.format(
                  Locale.ROOT,
                  "MD5 %.0f MB/s; ours %.0f MB/s of JSON, on the parsed (frozen) tree",
                  mbPerSecond(w.json().length, floor),
                  mbPerSecond(w.json().length, ours))));
    }
    return rows;
  }

  static double mbPerSecond(long bytes, double millis) {
    return bytes / 1e6 / (millis / 1e3);
  }
}
