package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import dev.configsync.ConfigSyncException;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.DeltaFrame;
import dev.configsync.internal.delta.IndexedConfig;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publish path of a {@link ControlPlaneServer}: checks a configuration, hashes and compresses
 * it once, saves it in the {@link ConfigStore} and hands it to the {@link Outlet}, which queues the
 * same bytes to every compatible node. Also takes configurations other replicas saved in a shared
 * store, and keeps the publish history for stores that keep none.
 *
 * <p>Threading: every method is thread-safe. Publishes and configurations taken from the store are
 * serialized on one lock ({@code publishLock}); the frame of a whole configuration over {@link
 * #INLINE_ENCODE_BYTES} is compressed on the encoder thread ({@code configsync-cp-encode}) while
 * the publishing thread hashes; smaller ones and entity edits (whose hashes are known already) are
 * compressed on the publishing thread, except an edit published ahead of its whole frame, whose
 * frame is made on the encoder thread when first asked for ({@link WholeFrame}), then saved in the
 * store under the lock on the compactor thread ({@code configsync-cp-compact}; never the encoder,
 * which a whole publish waits for while it holds the lock). {@link #acceptFromStore} runs on the
 * store's thread.
 */
final class ConfigPublisher {
  // The facade's logger: operators filter on it, and what it logs is the server's doing.
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  /**
   * Below this size (JSON bytes), a publish compresses its frame on its own thread: overlapping
   * with the hashing saves less than the hand-off to the encoder thread costs.
   */
  static final int INLINE_ENCODE_BYTES = 64 * 1024;

  private final ConfigStore store;
  private final Outlet outlet;
  private final Clock clock;
  private final Consumer<JsonNode> validator;
  private final long maxPayloadBytes;
  private final long maxInflatedBytes;
  private final PublishStats stats = new PublishStats();
  private final Object publishLock = new Object();
  private final ExecutorService encoder;
  private final JournalCompactor compactor;
  private long sequence; // guarded by publishLock
  // The store's revision of the configuration served (0: unknown, or a store without revisions).
  // Written under publishLock; read without it only to skip work early.
  private volatile long servedRevision;
  // The configurations taken since start, newest first, for stores that keep no history.
  private final ArrayDeque<ConfigVersion> taken = new ArrayDeque<>();
  private volatile boolean closed;
  // The plugins of the configuration looked at last, by member (see pluginsOf); a cache only.
  private volatile Compatibility.@Nullable PluginUse pluginUse;
  // The configuration in force, indexed, once an entity edit asked for it (see currentIndexed).
  private volatile @Nullable IndexedConfig indexed;

  /**
   * @param settings the store, clock, validator and size limits (see ControlPlaneServer.Builder)
   */
  ConfigPublisher(ServerSettings settings, Outlet outlet) {
    this.store = settings.store;
    this.outlet = outlet;
    this.clock = settings.clock;
    this.validator = settings.validator;
    this.maxPayloadBytes = settings.maxPayloadBytes;
    this.maxInflatedBytes = settings.maxInflatedBytes;
    // Compresses frames while the publishing thread hashes; its thread ends when idle.
    this.encoder = idleThread("configsync-cp-encode");
    this.compactor = new JournalCompactor(store, publishLock, outlet::latest, () -> closed);
  }

  /** One daemon thread named {@code name}, started on demand, ending after 30 s idle. */
  static ExecutorService idleThread(String name) {
    return new ThreadPoolExecutor(
        0,
        1,
        30,
        TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(),
        new DefaultThreadFactory(name, true));
  }

  /**
   * Serves the configuration the store holds, if any, then watches the store: a shared store tells
   * of what other replicas publish from there on.
   *
   * @throws IOException when the stored configuration is damaged
   */
  void start() throws IOException {
    Optional<byte[]> stored = store.load();
    if (stored.isPresent()) {
      Published restored = decodeStored(stored.get());
      synchronized (publishLock) {
        sequence = 1;
        outlet.publish(restored);
        // The store's number of it (its revision, or the file store's count), so that versions
        // only grow across restarts; 0 for a store without numbers.
        long revision = store.loadedRevision();
        servedRevision = Math.max(servedRevision, revision);
        remember(restored, revision);
      }
      log.info(
          "Loaded configuration {} (published {}) from {}",
          restored.hash(),
          restored.publishedAt(),
          store.describe());
    }
    store.watch(
        new ConfigStore.Listener() {
          @Override
          public void changed(byte[] payload, String hash, long revision) {
            acceptFromStore(payload, hash, revision, null);
          }

          @Override
          public void changed(byte[] payload, String hash, long revision, byte @Nullable [] delta) {
            acceptFromStore(payload, hash, revision, delta);
          }
        });
  }

  private Published decodeStored(byte[] payload) throws IOException {
    try {
      JsonNode message;
      try (InputStream in = Gzip.inflating(payload, maxInflatedBytes)) {
        message = Json.readFrozen(in);
        Gzip.drain(in);
      }
      JsonNode table = message.path("config_table");
      if (!HybridProtocol.TYPE_RECONFIGURE.equals(message.path("type").asText(""))
          || !table.isObject()) {
        throw new IOException("not a reconfigure message with a config_table object");
      }
      ConfigHashes hashes = ConfigHash.configHashes(table);
      String claimed = message.path("config_hash").asText("");
      if (!claimed.isEmpty() && !claimed.equals(hashes.config())) {
        throw new IOException(
            "its config_hash " + claimed + " does not match its content (" + hashes.config() + ")");
      }
      double ts = message.path("timestamp").asDouble(0);
      Instant at = Instant.ofEpochMilli((long) (ts * 1000));
      return new Published(1, hashes, payload, table, pluginsOf(table), at);
    } catch (IOException e) {
      throw new IOException(
          "the stored configuration in "
              + store.describe()
              + " is damaged ("
              + e.getMessage()
              + "); restore it (a data plane's config.json.gz has the same format) or remove it"
              + " to start empty",
          e);
    }
  }

  /** {@link ConfigJson#parse}, a refusal counted as a failed publish. */
  JsonNode parseCounted(byte[] json) {
    try {
      return ConfigJson.parse(json);
    } catch (RuntimeException e) {
      stats.failed(e);
      throw e;
    }
  }

  // ---- publishing ------------------------------------------------------------------------------

  /** The publishes counted since start, for {@code GET /metrics}. */
  PublishStats stats() {
    return stats;
  }

  /**
   * Publishes an already parsed, frozen tree; with {@code expectedHash}, only if the configuration
   * in force has that hash. Counted in {@link #stats()}, published or refused.
   *
   * <p>The frame is compressed on the encoder thread while this one computes the hashes (the two
   * costliest steps of a publish, each about as long as the other, so a publish on two cores takes
   * about the longer of them instead of their sum).
   *
   * @param json the UTF-8 JSON {@code config} was parsed from (one value, nothing after it), which
   *     goes into the frame as it is; null to write the tree instead
   */
  PublishResult publish(JsonNode config, @Nullable String expectedHash, byte @Nullable [] json) {
    return counted(() -> publishUncounted(config, expectedHash, json, null));
  }

  /**
   * Publishes the outcome of entity edits made from the configuration {@code baseHash}, only if
   * that is still the configuration in force; like {@link #publish} otherwise, but with the hashes
   * the edits computed (only the changed parts were hashed again), and with the delta frame from
   * the base made from the edits' change set instead of a diff.
   */
  PublishResult publishEdit(EntityEdits.Edited edit, String baseHash) {
    return counted(() -> publishUncounted(edit.config().table(), baseHash, null, edit));
  }

  private PublishResult counted(java.util.function.Supplier<PublishResult> publish) {
    PublishResult result;
    try {
      result = publish.get();
    } catch (RuntimeException e) {
      stats.failed(e);
      throw e;
    }
    stats.published(result.changed());
    return result;
  }

  /**
   * The configuration in force, indexed for entity edits, or empty before the first publish. Built
   * from the whole configuration on first use after a whole publish (about the cost of hashing it),
   * then kept: each entity edit's result is indexed already.
   */
  Optional<IndexedConfig> currentIndexed() {
    Published p = outlet.latest();
    if (p == null) {
      return Optional.empty();
    }
    IndexedConfig kept = indexed;
    if (kept != null && kept.hashes().config().equals(p.hash())) {
      return Optional.of(kept);
    }
    IndexedConfig built = IndexedConfig.of(p.config());
    synchronized (publishLock) {
      Published now = outlet.latest();
      if (now != null && now.sequence() == p.sequence()) { // still in force: keep it
        indexed = built;
      }
    }
    return Optional.of(built);
  }

  private PublishResult publishUncounted(
      JsonNode config,
      @Nullable String expectedHash,
      byte @Nullable [] json,
      EntityEdits.@Nullable Edited edit) {
    if (closed) {
      throw new IllegalStateException("the control plane is closed");
    }
    if (!config.isObject()) {
      throw new InvalidConfigurationException(
          "a configuration must be a JSON object, found " + config.getNodeType());
    }
    try {
      validator.accept(config);
    } catch (IllegalArgumentException e) {
      throw new InvalidConfigurationException("refused by the validator: " + e.getMessage(), e);
    }
    // The frame is compressed on the encoder thread while this one hashes, for a whole
    // configuration large enough to gain from it; an edit's hashes are known already, so it has
    // nothing to overlap with, and it compresses only once its change is on its way (below).
    @Nullable CompletableFuture<HybridProtocol.ReconfigureFrame> encoding = null;
    if (edit == null && (json == null || json.length > INLINE_ENCODE_BYTES)) {
      try {
        encoding =
            CompletableFuture.supplyAsync(
                () ->
                    HybridProtocol.ReconfigureFrame.begin(
                        json != null ? json : ConfigJson.write(config)),
                encoder);
      } catch (RejectedExecutionException e) {
        throw new IllegalStateException("the control plane is closed", e);
      }
    }
    ConfigHashes hashes = edit != null ? edit.config().hashes() : ConfigHash.configHashes(config);
    synchronized (publishLock) {
      if (closed) { // checked again under the lock: close() closes the store under it
        throw new IllegalStateException("the control plane is closed");
      }
      Published current = outlet.latest();
      if (current != null && current.hash().equals(hashes.config())) {
        return new PublishResult(
            hashes, false, current.publishedAt(), current.payloadBytes(), versionOf(current));
      }
      String currentHash = current == null ? ConfigHash.NONE : current.hash();
      if (expectedHash != null && !expectedHash.equals(currentHash)) {
        throw new PublishConflictException(
            currentHash,
            "the configuration in force is "
                + currentHash
                + ", not the expected "
                + expectedHash
                + "; read it again, merge your change and publish again");
      }
      // Milliseconds: the precision of the message's timestamp, so a restart restores it exactly.
      Instant now = clock.instant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
      ConfigHistory.@Nullable Change change = null;
      if (edit != null && current != null) {
        change =
            new ConfigHistory.Change(
                currentHash,
                outlet.history.changeFrame(
                    currentHash, hashes, sequence + 1, now, current.frameSize(), edit.changes()));
        if (change.frame() != null && aheadOfTheWholeFrame(current, change.frame())) {
          PublishResult ahead = publishAhead(edit, change, current, now);
          if (ahead != null) {
            return ahead;
          }
        }
      }
      byte[] frame =
          WholeFrame.finish(
              encoding != null
                  ? encoding
                  : CompletableFuture.completedFuture(
                      HybridProtocol.ReconfigureFrame.begin(
                          json != null ? json : ConfigJson.write(config))),
              hashes,
              now);
      if (frame.length > maxPayloadBytes) {
        throw InvalidConfigurationException.tooLarge(
            "the compressed configuration is "
                + frame.length
                + " bytes; data planes accept at most "
                + maxPayloadBytes
                + " (maxPayloadBytes, Kong's cluster_max_payload)");
      }
      long revision =
          save(
              frame, hashes.config(), current, currentHash, change == null ? null : change.frame());
      compactor.wholeSaved();
      // A successful compare-and-set is newer than everything committed before it, so its revision
      // is above servedRevision (nothing is taken from the store while this lock is held).
      Set<String> plugins =
          edit != null && current != null ? pluginsOf(edit, current) : pluginsOf(config);
      Published published = new Published(++sequence, hashes, frame, config, plugins, now);
      if (edit != null) {
        indexed = edit.config();
      }
      // From nothing, there is no base a node could run: the whole frame is its only way.
      outlet.publish(published, change);
      servedRevision = Math.max(servedRevision, revision);
      remember(published, revision);
      log.info(
          "Published configuration {} ({} bytes compressed): {}",
          hashes.config(),
          frame.length,
          outlet.tally(published.plugins()).describe());
      return new PublishResult(hashes, true, now, frame.length, versionOf(published));
    }
  }

  /**
   * Whether an edit may be published ahead of its whole frame: its change is small, and the whole
   * frame before it is far enough under the payload limit that one small change cannot take the new
   * one over it (the limit is checked only once the frame is made, after nodes took the change).
   */
  private boolean aheadOfTheWholeFrame(Published current, byte[] delta) {
    return current.frameSize() <= maxPayloadBytes / 2 && delta.length <= maxPayloadBytes / 8;
  }

  /**
   * Publishes an edit ahead of its whole frame (publishLock held), when the store keeps changes
   * ({@link ConfigStore#saveChange}): the change is made durable, the configuration goes into force
   * and nodes running the base are sent the change at once. The whole frame is made only when asked
   * for ({@link WholeFrame}): by a node that needs it, or here, when the store's journal is due
   * ({@link JournalCompactor}), so that the store saves it whole and its journal stays short.
   * Returns null when the store keeps no changes (nothing was saved; the caller publishes the whole
   * frame first).
   */
  private @Nullable PublishResult publishAhead(
      EntityEdits.Edited edit, ConfigHistory.Change change, Published current, Instant now) {
    byte[] delta = java.util.Objects.requireNonNull(change.frame());
    ConfigHashes hashes = edit.config().hashes();
    long revision = saveChange(delta, hashes.config(), current.hash());
    if (revision < 0) {
      return null;
    }
    JsonNode config = edit.config().table();
    long seq = ++sequence;
    Published published =
        new Published(
            seq,
            hashes,
            WholeFrame.lazy(
                encoder,
                () -> WholeFrame.make(config, hashes, now, maxPayloadBytes),
                frame -> compactor.saveWhenMade(frame, seq)),
            current.frameSize(),
            config,
            pluginsOf(edit, current),
            now);
    indexed = edit.config();
    outlet.publish(published, change);
    servedRevision = Math.max(servedRevision, revision);
    remember(published, revision);
    if (compactor.changeSaved(delta.length, current.frameSize())) {
      // The store's journal is due: the frame is saved whole once made (WholeFrame.make logs a
      // failure).
      CompletableFuture<byte[]> unused = published.wholeFrame();
    }
    log.info(
        "Published configuration {} (an entity edit; change {} bytes): {}",
        hashes.config(),
        delta.length,
        outlet.tally(published.plugins()).describe());
    return new PublishResult(hashes, true, now, published.payloadBytes(), versionOf(published));
  }

  /** Saves a change ahead of its whole frame (publishLock held); -1 when the store keeps none. */
  private long saveChange(byte[] delta, String hash, String previousHash) {
    try {
      return store.saveChange(delta, hash, previousHash);
    } catch (IOException e) {
      throw new ConfigSyncException(
          "the change could not be stored in "
              + store.describe()
              + ": "
              + e.getMessage()
              + "; nothing was published",
          e);
    }
  }

  /** Saves a frame in the store (publishLock held); each store failure becomes its exception. */
  private long save(
      byte[] frame,
      String hash,
      @Nullable Published current,
      String currentHash,
      byte @Nullable [] delta) {
    try {
      return store.save(frame, hash, current == null ? null : current.hash(), delta);
    } catch (ConfigOutcomeUnknownException e) {
      log.warn(
          "The outcome of publishing configuration {} is unknown: {}; still serving {} until the"
              + " store shows which configuration is in force",
          hash,
          e.getMessage(),
          currentHash);
      throw new PublishOutcomeUnknownException(
          hash,
          "the store may or may not have applied configuration "
              + hash
              + " ("
              + e.getMessage()
              + "); it was not sent to this replica's data planes; if the store applied it, it"
              + " reaches them from there: see GET /config/history and GET /config once the store"
              + " answers, or publish it again (an unchanged configuration is a no-op)",
          e);
    } catch (ConfigConflictException e) {
      throw new PublishConflictException(
          e.currentHash(),
          "another control plane replica published configuration "
              + e.currentHash()
              + " first ("
              + e.getMessage()
              + "); nothing was published: read it again, merge your change and publish again",
          e);
    } catch (IOException e) {
      throw new ConfigSyncException(
          "the configuration could not be stored in "
              + store.describe()
              + ": "
              + e.getMessage()
              + "; nothing was published",
          e);
    }
  }

  /**
   * Takes a configuration saved in the shared store (by another replica, or by this one when its
   * outcome was unknown): checked like a stored one, then sent to this replica's nodes without
   * being saved again. Ordered by the store's revisions only: a revision at or below the one served
   * is ignored (this replica's own publish coming back, or an older one overtaken by a newer
   * publish), so the replica never goes back. Runs on the store's thread.
   */
  private void acceptFromStore(
      byte[] payload, String hash, long revision, byte @Nullable [] delta) {
    if (closed || revision <= servedRevision) {
      return;
    }
    FromChange fromChange = delta == null ? null : fromChange(payload, hash, delta);
    Published decoded;
    try {
      decoded = fromChange != null ? fromChange.published() : decodeStored(payload);
    } catch (IOException | RuntimeException e) {
      Published current = outlet.latest();
      log.error(
          "Ignoring configuration {} (store revision {}) from {}: {}; still serving {}",
          hash,
          revision,
          store.describe(),
          e.getMessage(),
          current == null ? "nothing" : current.hash());
      return;
    }
    synchronized (publishLock) {
      if (closed || revision <= servedRevision) {
        return; // a publish of this replica at this revision or later came first
      }
      servedRevision = revision;
      Published latest = outlet.latest();
      if (latest != null && latest.hash().equals(decoded.hash())) {
        remember(latest, revision);
        return; // the same configuration, written again: nothing to send
      }
      Published published =
          new Published(
              ++sequence,
              decoded.hashes(),
              decoded.frame(),
              decoded.config(),
              decoded.plugins(),
              decoded.publishedAt());
      if (fromChange != null && latest != null && latest.hash().equals(fromChange.baseHash())) {
        // This replica's nodes on the configuration before are sent the writer's change as is.
        indexed = fromChange.config();
        outlet.publish(
            published,
            new ConfigHistory.Change(fromChange.baseHash(), Objects.requireNonNull(delta)));
      } else {
        outlet.publish(published);
      }
      remember(published, revision);
      log.info(
          "Configuration {} (store revision {}) taken from {}, where another replica or an earlier"
              + " publish with an unknown outcome wrote it; {}",
          published.hash(),
          revision,
          store.describe(),
          outlet.tally(published.plugins()).describe());
    }
  }

  /** A configuration taken from the store by applying its writer's change. */
  private record FromChange(Published published, IndexedConfig config, String baseHash) {}

  /**
   * The configuration the store's {@code delta} makes from the one in force, when the change
   * applies to it and gives exactly {@code hash} and its announced hashes; null otherwise (the
   * whole payload is decoded then). Saves decoding and hashing the whole payload: only the changed
   * parts are hashed again. Runs on the store's thread.
   */
  private @Nullable FromChange fromChange(byte[] payload, String hash, byte[] delta) {
    Published latest = outlet.latest();
    if (latest == null) {
      return null;
    }
    try {
      DeltaFrame frame =
          DeltaFrame.parse(Json.readFrozen(Gzip.decompress(delta, maxInflatedBytes)));
      if (!frame.baseHash().equals(latest.hash()) || !frame.targetHash().equals(hash)) {
        return null;
      }
      IndexedConfig base = currentIndexed().orElse(null);
      if (base == null || !base.hashes().config().equals(latest.hash())) {
        return null;
      }
      IndexedConfig config = base.apply(frame.changes(), frame.hashes()).config();
      JsonNode table = config.table();
      Instant at = Instant.ofEpochMilli((long) (frame.timestampSeconds() * 1000));
      return new FromChange(
          new Published(0, config.hashes(), payload, table, pluginsOf(table), at),
          config,
          frame.baseHash());
    } catch (IOException | RuntimeException e) {
      log.debug(
          "The store's change to {} does not apply to {} ({}); reading the whole configuration",
          hash,
          latest.hash(),
          e.toString());
      return null;
    }
  }

  /** The version of the configuration in force, {@code p} (publishLock held). */
  private long versionOf(Published p) {
    ConfigVersion latest = taken.peekFirst();
    return latest != null && latest.hash().equals(p.hash()) ? latest.revision() : p.sequence();
  }

  /**
   * The plugins {@code config} uses, walking only the top-level members that are not the very nodes
   * of the configuration looked at last (an entity edit's result shares all the others).
   */
  private Set<String> pluginsOf(JsonNode config) {
    Compatibility.PluginUse use = Compatibility.PluginUse.of(config, pluginUse);
    pluginUse = use;
    return use.all();
  }

  /**
   * The plugins of {@code edit}'s result, made from {@code base} (the configuration in force, under
   * publishLock): the collections it changed entity by entity are counted again from the changed
   * entities only, not walked whole (on 18,000 routes, a walk of the routes took about 30 ms).
   */
  private Set<String> pluginsOf(EntityEdits.Edited edit, Published base) {
    Compatibility.PluginUse use =
        Compatibility.PluginUse.ofEdit(base.config(), edit.applied(), pluginUse);
    pluginUse = use;
    return use.all();
  }

  /** Records a configuration taken into force, for stores that keep no history (publishLock). */
  private void remember(Published p, long revision) {
    taken.addFirst(
        new ConfigVersion(p.hash(), revision > 0 ? revision : sequence, p.publishedAt(), null));
    while (taken.size() > ControlPlaneServer.MAX_HISTORY) {
      taken.removeLast();
    }
  }

  /** See {@link ControlPlaneServer#history}; {@code limit} is checked by the caller. */
  List<ConfigVersion> history(int limit) {
    Optional<List<ConfigVersion>> kept;
    try {
      kept = store.history(limit);
    } catch (IOException e) {
      throw new ConfigSyncException(
          "the publish history cannot be read from " + store.describe() + ": " + e.getMessage(), e);
    }
    if (kept.isPresent()) {
      List<ConfigVersion> all = kept.get();
      return List.copyOf(all.size() > limit ? all.subList(0, limit) : all);
    }
    synchronized (publishLock) {
      return taken.stream().limit(limit).toList();
    }
  }

  /** The configuration in force, or empty before the first publish. */
  Optional<PublishedConfig> current() {
    Published p = outlet.latest();
    return p == null
        ? Optional.empty()
        : Optional.of(
            new PublishedConfig(p.hashes(), p.config(), p.publishedAt(), p.payloadBytes()));
  }

  /** Where the configuration is stored. */
  String storeDescription() {
    return store.describe();
  }

  /** Why the store cannot be written now, or empty. */
  Optional<String> degradedReason() {
    return store.unavailable();
  }

  boolean isClosed() {
    return closed;
  }

  /** Refuses every publish from now on (a publish already saving finishes). */
  void refuseNewPublishes() {
    closed = true;
  }

  /**
   * Closes the store once no publish is saving (none starts after {@link #refuseNewPublishes}), and
   * lets the encoder thread end (a frame still compressing finishes; its publish gave up).
   */
  void close() {
    synchronized (publishLock) {
      try {
        store.close();
      } catch (IOException e) {
        log.warn("Closing the config store failed: {}", e.toString());
      }
    }
    encoder.shutdown();
    compactor.shutdown();
  }
}
