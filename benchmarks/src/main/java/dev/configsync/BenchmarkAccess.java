package dev.configsync;

import java.time.Instant;

/**
 * Lets the benchmarks (module {@code configsync-benchmarks}, same package on the class path) call
 * the package-private payload decoder. Not API; not in any published artifact.
 */
public final class BenchmarkAccess {
  private static final PayloadDecoder DECODER =
      new PayloadDecoder(Long.MAX_VALUE, ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES);

  private BenchmarkAccess() {}

  /**
   * Decodes a {@code reconfigure} frame as the client's pipeline does: size checks, capped gunzip,
   * strict parse into a frozen tree, hash verification.
   */
  public static ConfigSnapshot decode(byte[] frame) {
    return DECODER.decode(frame, SnapshotSource.CONTROL_PLANE, Instant.EPOCH);
  }
}
