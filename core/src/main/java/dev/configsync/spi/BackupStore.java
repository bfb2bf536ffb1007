package dev.configsync.spi;

import java.io.IOException;
import java.util.Optional;

/**
 * Shared storage (a mounted directory, an S3 bucket) for a copy of the fleet's running
 * configuration, so that a node started during a control-plane outage, with no cache of its own,
 * can still come up with a configuration (Kong calls this data plane resilience).
 *
 * <p>Nodes configured to export put the configuration they run (verified, as received) at most once
 * per export delay; nodes configured to import get it only when they start with no valid
 * configuration and their first connection attempt fails. Whatever the store, an imported copy is
 * verified by its configuration hash before use, so a store need not be trusted for integrity.
 *
 * <p>Keys: {@code version} is the major.minor of the node version (like Kong's {@code
 * <prefix>/<version>/config.json}), so that nodes of one version never import a configuration
 * written for another. Implementations decide the rest of the layout and document it.
 *
 * <p>Threading: the client calls {@link #put} and {@link #get} from one background thread, one at a
 * time. They may block (network) for as long as the implementation's own timeouts allow.
 */
public interface BackupStore {

  /**
   * Stores {@code payload} (the gzip {@code reconfigure} payload) as the copy for {@code version},
   * replacing the previous one. Readers must never see a partial copy.
   *
   * @throws IOException when the copy could not be stored
   */
  void put(String version, byte[] payload) throws IOException;

  /**
   * Returns the copy for {@code version}, or empty when there is none.
   *
   * @throws IOException when the store cannot be read
   */
  Optional<byte[]> get(String version) throws IOException;

  /** Where the copies go, for logs and events (never credentials). */
  String describe();

  /**
   * Checks a {@code version} key part for implementations: digits separated by dots (like {@code
   * 3.9}), so that it can never escape a directory or a key prefix.
   *
   * @return {@code version}
   * @throws IllegalArgumentException otherwise, showing the value with non-printable characters
   *     replaced
   */
  static String requireVersion(String version) {
    if (!isValidVersion(version)) {
      throw new IllegalArgumentException(
          "backup version must be digits separated by dots (like 3.9), got: \""
              + version.replaceAll("[^\\x20-\\x7E]", "?")
              + "\"");
    }
    return version;
  }

  /** Whether {@code version} is a valid key part: see {@link #requireVersion}. */
  static boolean isValidVersion(String version) {
    return version.matches("[0-9]{1,9}(?:\\.[0-9]{1,9}){0,3}");
  }
}
