package dev.configsync.spi;

import dev.configsync.ConfigSnapshot;

/**
 * Lets the embedding gateway refuse a configuration before it is cached and applied: the node then
 * keeps the configuration it runs (a NACK, in xDS terms).
 *
 * <p>Called on the client's pipeline thread, never concurrently with itself, after the payload was
 * decompressed, parsed and its hash verified, and before anything is written to disk. It may take
 * as long as it needs; newer configurations wait for it.
 *
 * <p>A configuration from the control plane, whole or a change set, comes with its {@link
 * ConfigSnapshot#changes() changes} against the configuration running as it is validated, so that a
 * validator can prepare the gateway's next state from the changed entities only; the first
 * configuration (and one from the cache, a fallback, a backup or loaded by hand) reports everything
 * as added.
 */
@FunctionalInterface
public interface ConfigValidator {

  /**
   * Checks {@code snapshot}.
   *
   * @throws Exception to reject the configuration; the exception's message becomes the reason in
   *     the {@code SnapshotRejected} event and, if enabled, in the error report to the control
   *     plane
   */
  void validate(ConfigSnapshot snapshot) throws Exception;
}
