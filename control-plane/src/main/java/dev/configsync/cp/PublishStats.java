package dev.configsync.cp;

import dev.configsync.ConfigSyncException;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts publishes since the server started, for {@code GET /metrics}: those that changed the
 * configuration, those that found it unchanged, and those that failed, by {@link Failure kind}.
 * Thread-safe and lock-free; a count never goes down.
 */
final class PublishStats {
  /** Why a publish failed; {@link #label()} is the {@code kind} label of the metric. */
  enum Failure {
    /** Not a JSON object or YAML mapping, or refused by the validator. */
    INVALID,
    /** Larger, compressed, than data planes accept. */
    TOO_LARGE,
    /** An {@code If-Match}, or another replica's publish, named another configuration. */
    CONFLICT,
    /** The shared store may or may not have applied it. */
    OUTCOME_UNKNOWN,
    /** The store could not save it. */
    STORE,
    /** The server was closed, or something unexpected failed. */
    OTHER;

    String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final LongAdder changed = new LongAdder();
  private final LongAdder unchanged = new LongAdder();
  private final Map<Failure, LongAdder> failed = new EnumMap<>(Failure.class);

  PublishStats() {
    for (Failure f : Failure.values()) {
      failed.put(f, new LongAdder());
    }
  }

  private LongAdder adder(Failure kind) {
    return Objects.requireNonNull(failed.get(kind)); // every kind has one, from the constructor
  }

  /** A publish that succeeded; {@code changedConfig} false when it was the one in force. */
  void published(boolean changedConfig) {
    (changedConfig ? changed : unchanged).increment();
  }

  /** A publish that ended with {@code e}. */
  void failed(RuntimeException e) {
    failed(classify(e));
  }

  void failed(Failure kind) {
    adder(kind).increment();
  }

  static Failure classify(RuntimeException e) {
    if (e instanceof InvalidConfigurationException invalid) {
      return invalid.isTooLarge() ? Failure.TOO_LARGE : Failure.INVALID;
    }
    if (e instanceof dev.configsync.ConfigFileException) {
      return Failure.INVALID;
    }
    if (e instanceof PublishConflictException) {
      return Failure.CONFLICT;
    }
    if (e instanceof PublishOutcomeUnknownException) {
      return Failure.OUTCOME_UNKNOWN;
    }
    if (e instanceof ConfigSyncException) {
      return Failure.STORE;
    }
    return Failure.OTHER;
  }

  long changed() {
    return changed.sum();
  }

  long unchanged() {
    return unchanged.sum();
  }

  long failures(Failure kind) {
    return adder(kind).sum();
  }
}
