package dev.configsync.cp;

import java.io.IOException;

/**
 * Thrown by {@link ConfigStore#save(byte[], String, String)} when the write may have reached the
 * store but no answer says whether it was applied (a timeout or a lost connection after the request
 * was sent, with the store unable to tell afterwards): it may be in force now, or become so later
 * (a write waiting in a cut-off etcd leader's log commits when the members are back). The store's
 * history ({@link ConfigStore#history}) and the configuration it serves tell the outcome once it is
 * reachable again.
 */
public final class ConfigOutcomeUnknownException extends IOException {
  private static final long serialVersionUID = 1L;

  private final String attemptedHash;

  /**
   * An unknown outcome.
   *
   * @param attemptedHash the hash of the configuration whose write may or may not be applied
   * @param message what happened, for logs and the admin API's answer
   * @param cause the failure that left the outcome unknown
   */
  public ConfigOutcomeUnknownException(String attemptedHash, String message, Throwable cause) {
    super(message, cause);
    this.attemptedHash = attemptedHash;
  }

  /** The hash of the configuration whose write may or may not be applied. */
  public String attemptedHash() {
    return attemptedHash;
  }
}
