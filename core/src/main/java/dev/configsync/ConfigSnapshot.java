package dev.configsync;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.IndexedConfig;
import dev.configsync.internal.delta.LazyChanges;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * One complete configuration, as a node runs it. Immutable and safe to share between threads.
 *
 * <p>The configuration ({@link #config()}) is the {@code config_table} of the control plane's
 * {@code reconfigure} message: any JSON object; for a Kong-style gateway, a declarative
 * configuration with {@code services}, {@code routes}, {@code plugins} and so on. Its {@link
 * #hash()} is Kong's configuration hash of that object, verified on receipt.
 */
public final class ConfigSnapshot {
  private final String hash;
  private final ConfigHashes hashes;
  private final SnapshotSource source;
  private final Instant timestamp;
  private final JsonNode config;
  private final byte[] payload;
  private final @Nullable License license;
  private final LazyChanges changes;
  // The hash of the configuration the change set that made this one applied to; null for a
  // configuration that came whole.
  private final @Nullable String deltaBase;
  // Shared by the copies (withSource, withLicense...): built once, on the first delta against it.
  private final Index index;

  ConfigSnapshot(
      ConfigHashes hashes,
      SnapshotSource source,
      Instant timestamp,
      JsonNode config,
      byte[] payload) {
    this(
        hashes,
        source,
        timestamp,
        config,
        payload,
        null,
        LazyChanges.initial(config),
        null,
        new Index(null));
  }

  private ConfigSnapshot(
      ConfigHashes hashes,
      SnapshotSource source,
      Instant timestamp,
      JsonNode config,
      byte[] payload,
      @Nullable License license,
      LazyChanges changes,
      @Nullable String deltaBase,
      Index index) {
    this.license = license;
    this.changes = changes;
    this.deltaBase = deltaBase;
    this.index = index;
    this.hashes = Objects.requireNonNull(hashes, "hashes");
    this.hash = hashes.config();
    this.source = Objects.requireNonNull(source, "source");
    this.timestamp = Objects.requireNonNull(timestamp, "timestamp");
    this.config = Objects.requireNonNull(config, "config");
    this.payload = Objects.requireNonNull(payload, "payload");
  }

  /** The configuration hash: 32 lowercase hex characters. */
  public String hash() {
    return hash;
  }

  /** The granular hashes (routes, services, plugins, upstreams, targets, and the whole). */
  public ConfigHashes hashes() {
    return hashes;
  }

  /** Where this configuration came from. */
  public SnapshotSource source() {
    return source;
  }

  /**
   * When the control plane published this configuration (the message's {@code timestamp}), or, when
   * the message carries none, when the node first loaded it.
   */
  public Instant timestamp() {
    return timestamp;
  }

  /**
   * The configuration as a read-only JSON tree. The tree is shared by every listener and by the
   * client: it is frozen, and any attempt to modify it throws {@link
   * UnsupportedOperationException}.
   */
  public JsonNode config() {
    return config;
  }

  /**
   * Binds the configuration to a type of the caller's, with Jackson ({@code
   * FAIL_ON_UNKNOWN_PROPERTIES} off, so a type may name only the parts it uses).
   *
   * @throws IllegalArgumentException when the configuration does not fit {@code type}
   */
  public <T> T as(Class<T> type) {
    try {
      return Json.BINDER.treeToValue(config, type);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          "configuration "
              + hash
              + " does not bind to "
              + type.getName()
              + ": "
              + e.getOriginalMessage(),
          e);
    }
  }

  /** The gzip payload as received or stored; shared, never modified. */
  byte[] payload() {
    return payload;
  }

  /**
   * The verified license this configuration carries, when the client checks licenses ({@link
   * ConfigSyncClient.Builder#licenseKey}); empty otherwise.
   */
  public Optional<License> license() {
    return Optional.ofNullable(license);
  }

  /**
   * What changed against the configuration the node ran before this one: the entities added,
   * updated and removed in each collection, and the top-level members replaced as a whole (see
   * {@link ConfigChanges} and {@code docs/protocol.md}, "Entities"). Every snapshot a client
   * applies carries its changes, whether it came whole or as a change; the first one a client
   * applies reports everything as added ({@link ConfigChanges#initial()}).
   *
   * <p>Computed on the first call, on the calling thread (a listener's, usually), and then kept.
   * The computation compares the two configurations by entity key; entities the two share (a
   * configuration that came as a change shares every unchanged entity with the one before) compare
   * at once, others by content. Until the first call the snapshot holds the previous
   * configuration's tree softly: the JVM may reclaim it when memory runs short, and the changes are
   * then reported as {@link ConfigChanges#initial() initial} (everything added: read the
   * configuration whole). A listener that calls this at once, as it runs, always gets the real
   * changes unless memory is that short; calling it releases the previous tree.
   */
  public ConfigChanges changes() {
    return changes.get();
  }

  /** A snapshot identical to this one but for its source. */
  ConfigSnapshot withSource(SnapshotSource newSource) {
    return new ConfigSnapshot(
        hashes, newSource, timestamp, config, payload, license, changes, deltaBase, index);
  }

  /** A snapshot identical to this one, carrying {@code verified}. */
  ConfigSnapshot withLicense(License verified) {
    return new ConfigSnapshot(
        hashes, source, timestamp, config, payload, verified, changes, deltaBase, index);
  }

  /**
   * The snapshot a change set made: {@code applied} to the configuration {@code base}, with the
   * changes it knows already (no second diff) and its index (so a next delta needs no render).
   *
   * @param payload a complete {@code reconfigure} message of the result, for the cache and backups
   */
  static ConfigSnapshot fromDelta(
      IndexedConfig.Applied applied,
      SnapshotSource source,
      Instant timestamp,
      byte[] payload,
      String base) {
    IndexedConfig config = applied.config();
    return new ConfigSnapshot(
        config.hashes(),
        source,
        timestamp,
        config.table(),
        payload,
        null,
        LazyChanges.known(applied.changes()),
        base,
        new Index(config));
  }

  /**
   * Whether this configuration came as a change set ({@code reconfigure_delta}) rather than whole.
   */
  boolean cameAsDelta() {
    return deltaBase != null;
  }

  /** The hash of the configuration the change set that made this one applied to, or null. */
  @Nullable String deltaBase() {
    return deltaBase;
  }

  /** The changes, when already known (a change set's) or computed; null when not computed yet. */
  @Nullable ConfigChanges changesIfKnown() {
    return changes.ifKnown();
  }

  /**
   * This configuration indexed for applying change sets to it: built on the first call (about the
   * cost of hashing the configuration), then kept as long as the snapshot. Any thread.
   */
  IndexedConfig indexed() {
    return index.get(config);
  }

  /** The index of a configuration, shared by a snapshot and its copies; built once. */
  private static final class Index {
    private volatile @Nullable IndexedConfig built;

    Index(@Nullable IndexedConfig built) {
      this.built = built;
    }

    IndexedConfig get(JsonNode config) {
      IndexedConfig i = built;
      if (i != null) {
        return i;
      }
      synchronized (this) {
        i = built;
        if (i == null) {
          i = IndexedConfig.of(config);
          built = i;
        }
        return i;
      }
    }
  }

  /**
   * A snapshot identical to this one whose {@link #changes()} are against {@code previous} (null:
   * the client ran nothing before).
   */
  ConfigSnapshot withChangesSince(@Nullable ConfigSnapshot previous) {
    LazyChanges since =
        previous == null
            ? LazyChanges.initial(config)
            : LazyChanges.between(previous.config(), config);
    return new ConfigSnapshot(
        hashes, source, timestamp, config, payload, license, since, deltaBase, index);
  }

  @Override
  public String toString() {
    return "ConfigSnapshot{hash=" + hash + ", source=" + source + ", timestamp=" + timestamp + "}";
  }
}
