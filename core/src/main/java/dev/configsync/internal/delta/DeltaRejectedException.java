package dev.configsync.internal.delta;

import dev.configsync.ConfigSyncException;

/**
 * A change set could not be applied; the base configuration is untouched. The message names the
 * collection and what was wrong, never an entity's content.
 */
public final class DeltaRejectedException extends ConfigSyncException {
  private static final long serialVersionUID = 1L;

  /** Why a change set was refused. */
  public enum Reason {
    /** The change set itself is not well formed (its JSON, or a rule it breaks on its own). */
    MALFORMED,
    /**
     * The change set does not fit the configuration it was applied to: a collection it changes is
     * missing or not keyed by the change set's key field, or a key it deletes or moves is absent. A
     * full configuration is needed.
     */
    BASE_MISMATCH,
    /** Applied, the result does not have the hash the change set was announced with. */
    HASH_MISMATCH
  }

  private final Reason reason;

  /** A refusal for {@code reason}. */
  public DeltaRejectedException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  /** Why the change set was refused. */
  public Reason reason() {
    return reason;
  }
}
