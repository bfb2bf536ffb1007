package dev.configsync;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.IndexedConfig;
import dev.configsync.internal.delta.LazyChanges;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
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
  private final Payload payload;
  private final @Nullable License license;
  private final LazyChanges changes;
  // The hash of the configuration the change set that made this one applied to; null for a
  // configuration that came whole.
  private final @Nullable String deltaBase;
  // The reconfigure_delta payload that made this configuration from deltaBase; null when whole.
  private final byte @Nullable [] change;
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
        new Payload(payload),
        null,
        LazyChanges.initial(config),
        null,
        null,
        new Index(null));
  }

  private ConfigSnapshot(
      ConfigHashes hashes,
      SnapshotSource source,
      Instant timestamp,
      JsonNode config,
      Payload payload,
      @Nullable License license,
      LazyChanges changes,
      @Nullable String deltaBase,
      byte @Nullable [] change,
      Index index) {
    this.license = license;
    this.changes = changes;
    this.deltaBase = deltaBase;
    this.change = change;
    this.index = index;
    this.hashes = Objects.requireNonNull(hashes, "hashes");
    this.hash = hashes.config();
    this.source = Objects.requireNonNull(source, "source");
    this.timestamp = Objects.requireNonNull(timestamp, "timestamp");
    this.config = Objects.requireNonNull(config, "config");
    this.payload = payload;
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

  /**
   * The gzip payload as received or stored; shared, never modified. For a configuration that came
   * as a change, a complete {@code reconfigure} message of it, encoded on the first call (the cost
   * of serializing and compressing the whole configuration) and then kept. Any thread.
   */
  byte[] payload() {
    return payload.get();
  }

  /**
   * The {@code reconfigure_delta} payload, as received, that made this configuration from {@link
   * #deltaBase()}; null for a configuration that came whole.
   */
  byte @Nullable [] change() {
    return change;
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
   * applies reports everything as added ({@link ConfigChanges#initial()}). A {@link
   * dev.configsync.spi.ConfigValidator} sees a configuration from the control plane with its
   * changes against the one running as it validates (so that a gateway can build what it needs next
   * in place); when another one runs by the time it is applied, the listener's are computed against
   * that one.
   *
   * <p>Computed on the first call, on the calling thread (a listener's, usually), and then kept.
   * The computation compares the two configurations by entity key; entities the two share (a
   * configuration that came as a change shares every unchanged entity with the one before) compare
   * at once, others by content. Until the first call the snapshot holds the previous
   * configuration's tree softly: the JVM may reclaim it when memory runs short, and the changes are
   * then reported as {@link ConfigChanges#initial() initial} (everything added: read the
   * configuration whole). So are the changes of a configuration that came whole and changed more
   * than a thousand entities and more than an eighth of them: it is cheaper read whole. A listener
   * that calls this at once, as it runs, always gets the real changes unless memory is that short;
   * calling it releases the previous tree.
   */
  public ConfigChanges changes() {
    return changes.get();
  }

  /** A snapshot identical to this one but for its source. */
  ConfigSnapshot withSource(SnapshotSource newSource) {
    return new ConfigSnapshot(
        hashes, newSource, timestamp, config, payload, license, changes, deltaBase, change, index);
  }

  /** A snapshot identical to this one, carrying {@code verified}. */
  ConfigSnapshot withLicense(License verified) {
    return new ConfigSnapshot(
        hashes, source, timestamp, config, payload, verified, changes, deltaBase, change, index);
  }

  /**
   * The snapshot a change set made: {@code applied} to the configuration {@code base}, with the
   * changes it knows already (no second diff) and its index (so a next delta needs no render).
   *
   * @param payload makes a complete {@code reconfigure} message of the result, for the cache and
   *     backups; called at most once, when first needed
   * @param change the {@code reconfigure_delta} payload that was applied, for the cache's journal
   */
  static ConfigSnapshot fromDelta(
      IndexedConfig.Applied applied,
      SnapshotSource source,
      Instant timestamp,
      Supplier<byte[]> payload,
      String base,
      byte[] change) {
    IndexedConfig config = applied.config();
    return new ConfigSnapshot(
        config.hashes(),
        source,
        timestamp,
        config.table(),
        new Payload(payload),
        null,
        LazyChanges.known(base, applied.changes()),
        base,
        change,
        new Index(config));
  }

  /**
   * This configuration as a node's first: no change set, and changes that report everything as
   * added. For the end of a journal replayed at start-up, which the node runs as it would run the
   * cache.
   */
  ConfigSnapshot asFirst() {
    return new ConfigSnapshot(
        hashes,
        source,
        timestamp,
        config,
        payload,
        license,
        LazyChanges.initial(config),
        null,
        null,
        index);
  }

  /**
   * Whether this configuration came as a change set ({@code reconfigure_delta}) rather than whole.
   */
  boolean cameAsDelta() {
    return deltaBase != null;
  }

  /** Whether {@link #changes()} are against the configuration whose hash is {@code hash}. */
  boolean changesAgainst(String hash) {
    return hash.equals(changes.base());
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

  /** The payload of a configuration, shared by a snapshot and its copies; made once if lazy. */
  private static final class Payload {
    private volatile byte @Nullable [] bytes;
    private @Nullable Supplier<byte[]> make; // guarded by this; null once made

    Payload(byte[] bytes) {
      this.bytes = Objects.requireNonNull(bytes, "payload");
    }

    Payload(Supplier<byte[]> make) {
      this.make = make;
    }

    byte[] get() {
      byte[] b = bytes;
      if (b != null) {
        return b;
      }
      synchronized (this) {
        b = bytes;
        if (b == null) {
          b = Objects.requireNonNull(Objects.requireNonNull(make, "payload").get(), "payload");
          bytes = b;
          make = null;
        }
        return b;
      }
    }
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
            : LazyChanges.between(previous.hash(), previous.config(), config);
    return new ConfigSnapshot(
        hashes, source, timestamp, config, payload, license, since, deltaBase, change, index);
  }

  @Override
  public String toString() {
    return "ConfigSnapshot{hash=" + hash + ", source=" + source + ", timestamp=" + timestamp + "}";
  }
}
