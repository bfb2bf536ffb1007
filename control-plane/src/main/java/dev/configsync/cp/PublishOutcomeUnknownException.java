package dev.configsync.cp;

import dev.configsync.ConfigSyncException;

/**
 * A publish whose outcome is unknown: the shared store may have applied it, now or later, or not at
 * all (its write timed out or its connection broke after the request was sent, and the store could
 * not be asked afterwards). It was not sent to this control plane's nodes; if the store applied it,
 * every replica (this one included) takes it from the store's watch as it does any other publish.
 * Learn the outcome from {@link ControlPlaneServer#history} ({@code GET /config/history}) or the
 * current configuration ({@code GET /config}) once the store is back; publishing the same
 * configuration again is safe (an unchanged configuration is a no-op). The admin API answers 504
 * {@code publish_outcome_unknown}.
 */
public final class PublishOutcomeUnknownException extends ConfigSyncException {
  private static final long serialVersionUID = 1L;

  private final String attemptedHash;

  PublishOutcomeUnknownException(String attemptedHash, String message, Throwable cause) {
    super(message, cause);
    this.attemptedHash = attemptedHash;
  }

  /** The hash of the configuration that may or may not have been published. */
  public String attemptedHash() {
    return attemptedHash;
  }
}
