package dev.configsync;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.internal.ReconnectingLink;
import dev.configsync.internal.delta.DeltaFrame;
import dev.configsync.internal.delta.DeltaRejectedException;
import dev.configsync.internal.delta.IndexedConfig;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SnapshotStore;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The apply pipeline: payload -> decode and checks (license, validator) on the pipeline thread ->
 * durable cache write on the cache-writer thread (bounded wait) -> {@link SyncLoop#publish}. Latest
 * wins at every stage. Confined to the sync loop: every method except {@link #check} and {@link
 * #decodeChecked} runs on it; the worker threads post their outcomes back to it. See {@code
 * docs/concurrency.md}.
 */
final class ApplyPipeline {
  private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

  private final SyncLoop loop;
  private final SyncSettings.Apply s;
  private final @Nullable LicenseVerifier licenseVerifier;

  /** Inflates large payloads ahead of the parse on the pipeline thread (or the starting thread). */
  private final ExecutorService inflater = SyncLoop.worker("configsync-inflate");

  private final PayloadDecoder decoder;
  private final ConfigFiles files;
  private final ExecutorService pipeline = SyncLoop.worker("configsync-pipeline");
  private final ExecutorService cacheWriter = SyncLoop.worker("configsync-cache-writer");
  private final @Nullable CacheJournal journal;

  // ---- loop state ---------------------------------------------------------------------------
  private byte @Nullable [] pendingPayload;
  private boolean decoding;
  private @Nullable PendingApply pendingApply;
  private CacheState cacheState;
  private @Nullable Instant lastCacheWrite;

  ApplyPipeline(SyncLoop loop, SyncSettings.Apply settings, @Nullable LicenseVerifier verifier) {
    this.loop = loop;
    this.s = settings;
    this.licenseVerifier = verifier;
    this.decoder = new PayloadDecoder(s.maxPayloadBytes(), s.maxInflatedBytes(), inflater);
    this.files = new ConfigFiles(decoder, s.maxPayloadBytes(), s.maxInflatedBytes());
    this.cacheState = s.store() == null ? CacheState.NO_STORE : CacheState.EMPTY;
    SnapshotStore store = s.store();
    this.journal =
        store == null
            ? null
            : new CacheJournal(store, cacheWriter, s.journalRecords(), s.journalFraction());
  }

  /**
   * Start-up found configuration {@code hash} in the store (see {@link CacheJournal#started}). Any
   * thread; handed to the cache-writer thread, ahead of any write.
   */
  void cacheFound(@Nullable String hash, long payloadBytes, int journalRecords, long journalBytes) {
    CacheJournal j = journal;
    if (j != null) {
      try {
        cacheWriter.execute(() -> j.started(hash, payloadBytes, journalRecords, journalBytes));
      } catch (RejectedExecutionException closing) {
        // nothing more is written
      }
    }
  }

  PayloadDecoder decoder() {
    return decoder;
  }

  ConfigFiles files() {
    return files;
  }

  CacheState cacheState() {
    return cacheState;
  }

  @Nullable Instant lastCacheWrite() {
    return lastCacheWrite;
  }

  /** The node started on its cached configuration: the cache holds what runs. */
  void startedFromCache() {
    cacheState = CacheState.CURRENT;
  }

  /** Whether a configuration waits for its cache write. */
  boolean applying() {
    return pendingApply != null;
  }

  /** Drops what waits (the client is closing). */
  void shutdownInLoop() {
    pendingPayload = null;
    PendingApply p = pendingApply;
    pendingApply = null;
    if (p != null) {
      p.abandon("the client was closed before configuration " + p.snapshot.hash() + " applied");
    }
  }

  /** Stops the threads, waiting for them at most these times when {@code wait}. */
  void stopThreads(boolean wait) {
    if (wait) {
      pipeline.shutdownNow();
    } else {
      pipeline.shutdown(); // this may be the pipeline thread: do not interrupt it
    }
    cacheWriter.shutdown(); // a write under way finishes: the store's write is atomic anyway
    if (journal != null) {
      journal.stop();
    }
    // Interrupted, an inflating task stops; the decode waiting for it then fails, as it should.
    inflater.shutdownNow();
    if (wait) {
      SyncLoop.awaitQuietly(pipeline, Duration.ofSeconds(5));
      SyncLoop.awaitQuietly(inflater, Duration.ofSeconds(5));
      SyncLoop.awaitQuietly(cacheWriter, s.cacheWriteTimeout());
    }
  }

  /** A payload from the control plane. */
  void onPayload(byte[] payload) {
    loop.metrics().payloadReceived(payload.length);
    if (pendingPayload != null) {
      log.debug("configsync: a newer configuration replaces one not yet decoded");
    }
    pendingPayload = payload; // latest wins
    maybeDecode();
  }

  private void maybeDecode() {
    byte[] payload = pendingPayload;
    if (decoding || payload == null || loop.isClosed()) {
      return;
    }
    pendingPayload = null;
    decoding = true;
    long started = loop.nanoTime();
    try {
      pipeline.execute(
          () -> {
            Decoded result;
            try {
              result = decodeAndValidate(payload);
            } catch (RuntimeException | Error e) {
              // Out of memory, a validator's AssertionError...: refuse this payload, and never
              // leave the pipeline marked busy, or every later configuration would be ignored.
              result =
                  new Decoded(
                      null,
                      new ConfigRejectedException(
                          Reason.BAD_MESSAGE,
                          null,
                          "configuration could not be processed: " + ReconnectingLink.describe(e),
                          e),
                      false,
                      false,
                      0);
            }
            Decoded outcome = result.startedAt(started);
            loop.execute(() -> onDecoded(outcome));
          });
    } catch (RejectedExecutionException e) {
      decoding = false; // closing
    }
  }

  /** The outcome of decoding on the pipeline thread. */
  /**
   * The outcome of decoding on the pipeline thread.
   *
   * @param askFull the payload was a {@code reconfigure_delta} the node could not use: the control
   *     plane is asked for the whole configuration
   */
  private record Decoded(
      @Nullable ConfigSnapshot snapshot,
      @Nullable ConfigRejectedException error,
      boolean same,
      boolean askFull,
      long startedNanos) {
    Decoded startedAt(long nanos) {
      return new Decoded(snapshot, error, same, askFull, nanos);
    }
  }

  /** Runs on the pipeline thread: no loop state here. */
  private Decoded decodeAndValidate(byte[] payload) {
    try {
      JsonNode message = decoder.read(payload);
      if (PayloadDecoder.isDelta(message)) {
        return applyDelta(message, payload);
      }
      ConfigSnapshot snapshot =
          PayloadDecoder.verify(message, payload, SnapshotSource.CONTROL_PLANE, loop.now());
      ConfigSnapshot running = loop.running();
      if (running != null && running.hash().equals(snapshot.hash())) {
        return new Decoded(snapshot, null, true, false, 0); // no need to validate what runs
      }
      // The validator sees the changes against what runs (a gateway updates in place from them);
      // they are kept when that still runs as this one is applied.
      return new Decoded(
          check(running == null ? snapshot : snapshot.withChangesSince(running)),
          null,
          false,
          false,
          0);
    } catch (ConfigRejectedException e) {
      return new Decoded(null, e, false, false, 0);
    }
  }

  /**
   * A {@code reconfigure_delta}: applied to the running configuration with structural sharing, its
   * hashes checked against the announced ones, then the same checks as a whole configuration. A
   * delta that does not fit is refused and the whole configuration asked for; the result is never
   * run unless its hash is the announced one. Runs on the pipeline thread.
   */
  private Decoded applyDelta(JsonNode message, byte[] payload) {
    DeltaFrame frame;
    try {
      frame = DeltaFrame.parse(message);
    } catch (DeltaRejectedException | IllegalArgumentException e) {
      return deltaRefused(Reason.BAD_MESSAGE, null, "reconfigure_delta refused: " + e.getMessage());
    }
    ConfigSnapshot running = loop.running();
    if (running != null && running.hash().equals(frame.targetHash())) {
      return new Decoded(null, null, true, false, 0); // it runs already: nothing to do
    }
    if (running == null || !running.hash().equals(frame.baseHash())) {
      return deltaRefused(
          Reason.BASE_MISMATCH,
          frame.targetHash(),
          "reconfigure_delta to "
              + frame.targetHash()
              + " applies to configuration "
              + frame.baseHash()
              + ", but the node runs "
              + (running == null ? "none" : running.hash()));
    }
    ConfigSnapshot snapshot;
    try {
      snapshot = applyChange(running, frame, payload, SnapshotSource.CONTROL_PLANE, loop.now());
    } catch (DeltaRejectedException e) {
      Reason reason =
          switch (e.reason()) {
            case MALFORMED -> Reason.BAD_MESSAGE;
            case BASE_MISMATCH -> Reason.BASE_MISMATCH;
            case HASH_MISMATCH -> Reason.HASH_MISMATCH;
          };
      return deltaRefused(
          reason, frame.targetHash(), "reconfigure_delta refused: " + e.getMessage());
    }
    try {
      return new Decoded(check(snapshot), null, false, false, 0);
    } catch (ConfigRejectedException e) {
      return new Decoded(null, e, false, false, 0); // the whole configuration would fail the same
    }
  }

  /**
   * {@code frame} (whose payload was {@code change}) applied to {@code base}: the result shares
   * unchanged entities with {@code base}, and its hashes are the frame's, else this throws. Its
   * whole payload is encoded only when asked for (a cache that keeps a journal stores {@code
   * change} instead). Any thread.
   *
   * @throws DeltaRejectedException when the change set does not apply or its result's hashes differ
   *     from the frame's
   */
  static ConfigSnapshot applyChange(
      ConfigSnapshot base, DeltaFrame frame, byte[] change, SnapshotSource source, Instant now) {
    IndexedConfig.Applied applied = base.indexed().apply(frame.changes(), frame.hashes());
    Instant published = PayloadDecoder.timestamp(frame.timestampSeconds(), now);
    IndexedConfig config = applied.config();
    return ConfigSnapshot.fromDelta(
        applied,
        source,
        published,
        () ->
            HybridProtocol.reconfigure(
                config.table(), config.hashes(), published.toEpochMilli() / 1000.0, null),
        base.hash(),
        change);
  }

  private static Decoded deltaRefused(Reason reason, @Nullable String hash, String message) {
    return new Decoded(
        null, new ConfigRejectedException(reason, hash, message, null), false, true, 0);
  }

  /** A backup copy, decoded and checked. Runs on the backup worker: no loop state here. */
  ConfigSnapshot decodeChecked(byte[] copy) {
    return check(decoder.decode(copy, SnapshotSource.BACKUP, loop.now()));
  }

  /** A backup copy arrived: applied if the node still has nothing. */
  void seedFromBackup(ConfigSnapshot snapshot) {
    if (!loop.isClosed() && loop.running() == null && pendingApply == null) {
      accept(snapshot, false, null, loop.nanoTime());
    }
  }

  /**
   * License (when enabled), then the user's validator. Returns the snapshot with its license. Runs
   * on any thread: no loop state here.
   */
  ConfigSnapshot check(ConfigSnapshot snapshot) {
    LicenseVerifier verifier = licenseVerifier;
    if (verifier != null) {
      try {
        snapshot = snapshot.withLicense(verifier.verify(snapshot.config()));
      } catch (LicenseException e) {
        throw new ConfigRejectedException(
            Reason.LICENSE,
            snapshot.hash(),
            "license of configuration " + snapshot.hash() + " refused: " + e.getMessage(),
            e);
      }
    }
    ConfigValidator validator = s.validator();
    if (validator == null) {
      return snapshot;
    }
    try {
      validator.validate(snapshot);
    } catch (Exception e) {
      String message = e.getMessage();
      throw new ConfigRejectedException(
          Reason.VALIDATOR,
          snapshot.hash(),
          "validator refused configuration "
              + snapshot.hash()
              + ": "
              + (message == null ? e.getClass().getName() : message),
          e);
    }
    return snapshot;
  }

  private void onDecoded(Decoded result) {
    decoding = false;
    if (!loop.isClosed()) {
      if (result.error() != null) {
        loop.reject(result.error(), result.askFull());
      } else if (result.snapshot() != null) {
        ConfigSnapshot running = loop.running();
        boolean stillSame = running != null && running.hash().equals(result.snapshot().hash());
        if (result.same() && !stillSame) {
          // It matched what ran when it was decoded, so it skipped the checks; what runs has
          // changed since (a pending configuration applied). Decode it again, checks included,
          // unless something newer is already waiting.
          if (pendingPayload == null) {
            pendingPayload = result.snapshot().payload();
          }
        } else {
          accept(result.snapshot(), result.same(), null, result.startedNanos());
        }
      }
    }
    maybeDecode();
  }

  /**
   * Starts applying {@code snapshot}: cache write, then publish. {@code done}, when given, learns
   * the outcome (the snapshot that runs, or why it never will).
   */
  void accept(
      ConfigSnapshot snapshot,
      boolean sameAsRunning,
      @Nullable CompletableFuture<ConfigSnapshot> done,
      long startedNanos) {
    ConfigSnapshot running = loop.running();
    PendingApply p = pendingApply;
    boolean runningSame = running != null && running.hash().equals(snapshot.hash());
    if (running != null
        && (running.source() == SnapshotSource.FALLBACK
            || running.source() == SnapshotSource.MANUAL)
        && runningSame
        && snapshot.source() == SnapshotSource.CONTROL_PLANE) {
      // The control plane confirms a configuration the node built itself (fallback or manual):
      // cache the control plane's own bytes, so that the cache and the source agree. (The
      // shortcut skipped the checks; the content is the running one, so is its license.)
      if (running.license().isPresent() && snapshot.license().isEmpty()) {
        accept(snapshot.withLicense(running.license().get()), false, done, startedNanos);
        return;
      }
      sameAsRunning = false;
      runningSame = false;
    }
    if (p == null && (runningSame || sameAsRunning)) {
      log.debug("configsync: configuration {} is already running; skipped", snapshot.hash());
      if (running != null
          && snapshot.source() == SnapshotSource.CONTROL_PLANE
          && (running.source() == SnapshotSource.CACHE
              || running.source() == SnapshotSource.BACKUP)) {
        // The control plane confirms what the node started with: from now on it is the control
        // plane's (and so eligible for backup export). Listeners already have it.
        loop.confirmRunning(running.withSource(SnapshotSource.CONTROL_PLANE));
      }
      if (done != null && running != null) {
        done.complete(running);
      }
      return;
    }
    if (p != null && p.snapshot.hash().equals(snapshot.hash())) {
      log.debug("configsync: configuration {} is already being applied; skipped", snapshot.hash());
      if (done != null) {
        CompletableFuture<?> unused =
            p.done.whenComplete(
                (applied, error) -> {
                  if (error != null) {
                    done.completeExceptionally(error);
                  } else {
                    done.complete(applied);
                  }
                });
      }
      return;
    }
    if (p != null) {
      log.debug(
          "configsync: {} supersedes {} before it was applied", snapshot.hash(), p.snapshot.hash());
      p.abandon("superseded by configuration " + snapshot.hash() + " before it was applied");
      pendingApply = null;
    }
    // What runs now is what this one replaces when it applies: any pending one was abandoned above,
    // and a newer one would abandon this.
    // A change set's snapshot knows its changes against its base, and a whole one validated while
    // a configuration ran has them against that one; against anything else (what runs changed
    // while it was decoded) they are computed when asked.
    boolean knownChanges = running != null && snapshot.changesAgainst(running.hash());
    ConfigSnapshot next = knownChanges ? snapshot : snapshot.withChangesSince(running);
    CacheJournal j = journal;
    if (j == null) {
      loop.publish(next, startedNanos);
      if (done != null) {
        done.complete(next);
      }
      return;
    }
    writeThenPublish(j, next, done, startedNanos);
  }

  private void writeThenPublish(
      CacheJournal journal,
      ConfigSnapshot snapshot,
      @Nullable CompletableFuture<ConfigSnapshot> done,
      long startedNanos) {
    PendingApply next =
        new PendingApply(snapshot, done == null ? new CompletableFuture<>() : done, startedNanos);
    pendingApply = next;
    try {
      next.write =
          cacheWriter.submit(
              () -> {
                @Nullable Exception failure = null;
                long writeStarted = loop.nanoTime();
                long written = 0;
                try {
                  written = journal.persist(snapshot).bytes();
                } catch (IOException | RuntimeException e) {
                  failure = e;
                }
                Exception f = failure;
                long bytes = written;
                Duration took = Duration.ofNanos(loop.nanoTime() - writeStarted);
                loop.execute(
                    () -> {
                      loop.metrics().cacheWrite(took, f == null);
                      onCacheWriteDone(next, f, bytes);
                    });
              });
    } catch (RejectedExecutionException e) {
      pendingApply = null; // closing
      next.done.completeExceptionally(new IllegalStateException("the client is closing"));
      return;
    }
    next.timeout = loop.schedule(s.cacheWriteTimeout(), () -> onCacheWriteTimeout(next));
  }

  private void onCacheWriteDone(PendingApply p, @Nullable Exception failure, long bytes) {
    if (loop.isClosed()) {
      return; // nothing is reported after Stopped
    }
    if (pendingApply != p) {
      // Either it outlived its time limit and the snapshot was applied without it (then it is
      // current, and now cached after all), or a newer configuration superseded it (never current).
      if (failure == null && loop.running() == p.snapshot) {
        cacheState = CacheState.CURRENT;
        lastCacheWrite = loop.now();
        loop.refreshStatus();
        loop.emit(new SyncEvent.CacheWritten(loop.now(), p.snapshot.hash(), bytes));
      }
      return;
    }
    pendingApply = null;
    if (p.timeout != null) {
      p.timeout.cancel();
    }
    if (failure == null) {
      cacheState = CacheState.CURRENT;
      lastCacheWrite = loop.now();
      loop.emit(new SyncEvent.CacheWritten(loop.now(), p.snapshot.hash(), bytes));
    } else {
      cacheState = CacheState.STALE;
      String reason = ReconnectingLink.describe(failure);
      log.warn(
          "configsync could not cache configuration {} ({}); applying it anyway: a restart now"
              + " would come back on an older configuration",
          p.snapshot.hash(),
          reason);
      loop.emit(new SyncEvent.CacheWriteFailed(loop.now(), p.snapshot.hash(), reason));
    }
    loop.publish(p.snapshot, p.startedNanos);
    p.done.complete(p.snapshot);
  }

  private void onCacheWriteTimeout(PendingApply p) {
    if (pendingApply != p) {
      return;
    }
    pendingApply = null;
    String reason = "cache write did not finish within " + s.cacheWriteTimeout();
    log.warn(
        "configsync {} for configuration {}; applying it anyway: a restart now would come back on"
            + " an older configuration",
        reason,
        p.snapshot.hash());
    cacheState = CacheState.STALE;
    loop.emit(new SyncEvent.CacheWriteFailed(loop.now(), p.snapshot.hash(), reason));
    loop.publish(p.snapshot, p.startedNanos);
    p.done.complete(p.snapshot);
  }

  /** A configuration waiting for its cache write before it is applied. Loop-confined. */
  private static final class PendingApply {
    final ConfigSnapshot snapshot;
    final CompletableFuture<ConfigSnapshot> done;
    final long startedNanos;
    @Nullable Future<?> write;
    Scheduler.@Nullable Cancellable timeout;

    PendingApply(
        ConfigSnapshot snapshot, CompletableFuture<ConfigSnapshot> done, long startedNanos) {
      this.snapshot = snapshot;
      this.done = done;
      this.startedNanos = startedNanos;
    }

    void abandon(String why) {
      done.completeExceptionally(new IllegalStateException(why));
      if (write != null) {
        write.cancel(false); // only if it has not started: a started write completes atomically
      }
      if (timeout != null) {
        timeout.cancel();
      }
    }
  }
}
