package dev.configsync;

import dev.configsync.internal.HashText;

/**
 * The configuration hash of a declarative configuration, together with the granular hashes it is
 * built from, as a Kong data plane computes and reports them in hybrid mode.
 *
 * <p>Comparing the granular hashes tells which part of a configuration changed; comparing {@link
 * #config} tells whether anything changed at all. A hash of a part that the configuration does not
 * contain is 32 {@code 0} characters.
 *
 * @param config the hash of the whole configuration (Kong's {@code config_hash}); 32 lowercase
 *     hexadecimal characters
 * @param routes the hash of the {@code routes} entry; 32 lowercase hexadecimal characters
 * @param services the hash of the {@code services} entry; 32 lowercase hexadecimal characters
 * @param plugins the hash of the {@code plugins} entry; 32 lowercase hexadecimal characters
 * @param upstreams the hash of the {@code upstreams} entry; 32 lowercase hexadecimal characters
 * @param targets the hash of the {@code targets} entry; 32 lowercase hexadecimal characters
 */
public record ConfigHashes(
    String config,
    String routes,
    String services,
    String plugins,
    String upstreams,
    String targets) {

  /**
   * Checks that every component is a well-formed hash, so that a malformed value is caught where it
   * is made rather than where it is compared.
   *
   * @throws IllegalArgumentException when a component is not 32 lowercase hexadecimal characters
   */
  public ConfigHashes {
    check("config", config);
    check("routes", routes);
    check("services", services);
    check("plugins", plugins);
    check("upstreams", upstreams);
    check("targets", targets);
  }

  private static void check(String name, String value) {
    if (!HashText.isValid(value)) {
      throw new IllegalArgumentException(
          name + " hash must be 32 lowercase hexadecimal characters: " + value);
    }
  }
}
