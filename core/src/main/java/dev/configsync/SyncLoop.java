package dev.configsync;

import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.internal.SerialContext;
import dev.configsync.spi.BackupStore;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SnapshotStore;
import dev.configsync.spi.SyncMetrics;
import dev.configsync.spi.Transport;
import io.github.resilience4j.core.IntervalFunction;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serial sync loop: the one owner of a client's state. Every field below the "loop state" line
 * is read and written only from tasks of {@link #loop}; transports, timers and the worker threads
 * post tasks to it and never touch the state themselves. See {@code docs/concurrency.md}.
 */
final class SyncLoop {
  private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

  /** Everything the builder decided. */
  record Settings(
      ControlPlanes controlPlanes,
      Transport transport,
      @Nullable SnapshotStore store,
      @Nullable UUID nodeId,
      String hostname,
      String nodeVersion,
      Map<String, String> capabilities,
      Map<String, String> labels,
      Duration heartbeatInterval,
      Duration deadAfter,
      IntervalFunction reconnectBackoff,
      Duration handshakeTimeout,
      Duration cacheWriteTimeout,
      long maxPayloadBytes,
      long maxInflatedBytes,
      @Nullable ConfigValidator validator,
      boolean reportErrors,
      List<Consumer<ConfigSnapshot>> snapshotListeners,
      List<Consumer<SyncEvent>> eventListeners,
      ListenerDispatcher dispatcher,
      @Nullable ExecutorService ownedListenerExecutor,
      Clock clock,
      Scheduler scheduler,
      @Nullable AutoCloseable ownedScheduler,
      @Nullable Path fallbackConfig,
      @Nullable LicenseVerifier licenseVerifier,
      Duration licenseWarning,
      @Nullable BackupStore backupExport,
      @Nullable BackupStore backupImport,
      Duration backupExportDelay,
      SyncMetrics metrics,
      UsageReporter.Settings usage) {

    private static final Pattern MAJOR_MINOR = Pattern.compile("(\\d+)\\.(\\d+)");

    /**
     * The key part that keeps backups of one node version apart from another's: major.minor only,
     * without a pre-release or build suffix ({@code 3.10-rc.1} gives {@code 3.10}).
     */
    String backupVersion() {
      Matcher m = MAJOR_MINOR.matcher(nodeVersion);
      return m.lookingAt() ? m.group(1) + "." + m.group(2) : nodeVersion;
    }
  }

  private final Settings s;
  private final SerialContext loop = new SerialContext();
  private final PayloadDecoder decoder;

  /** Inflates large payloads ahead of the parse on the pipeline thread (or the starting thread). */
  private final ExecutorService inflater;

  private final ConfigFiles files;
  // Released by the loop when the first configuration applies, and once the onSnapshot listeners
  // have run for it.
  private final CountDownLatch firstApplied = new CountDownLatch(1);
  private final CountDownLatch firstDelivered = new CountDownLatch(1);
  private final java.util.concurrent.atomic.AtomicBoolean closing =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final ExecutorService pipeline;
  private final ExecutorService cacheWriter;
  private final ExecutorService backupWorker;
  private final UsageReporter reporter;

  // Read from any thread, written only by the loop.
  private volatile @Nullable ConfigSnapshot current;
  private volatile SyncStatus status;

  // ---- loop state -------------------------------------------------------------------------
  private SyncState state = SyncState.NEW;
  private UUID nodeId = new UUID(0, 0);
  private URI uri;
  private @Nullable URI endpoint; // the control plane address of the current or last attempt
  private int epoch;
  private Transport.@Nullable Connection connection;
  private Scheduler.@Nullable Cancellable handshakeTimer;
  private Scheduler.@Nullable Cancellable heartbeatTimer;
  private Scheduler.@Nullable Cancellable deadTimer;
  private Scheduler.@Nullable Cancellable retryTimer;
  private long lastReceivedNanos;
  private @Nullable Instant lastContact;
  private @Nullable Instant lastApplied;
  private int attemptsSinceData;
  private long connectAttempts;
  private long appliedCount;
  private long rejectedCount;
  private @Nullable String lastError;
  private byte @Nullable [] pendingPayload;
  private boolean decoding;
  private @Nullable PendingApply pendingApply;
  private LicenseState licenseState = LicenseState.NONE;
  private @Nullable License license;
  private Scheduler.@Nullable Cancellable licenseTimer;
  private boolean importOnFirstFailure;
  private boolean everExported;
  private long lastExportNanos;
  private Scheduler.@Nullable Cancellable exportTimer;
  private long reconnects;
  private CacheState cacheState;
  private @Nullable Instant lastCacheWrite;

  SyncLoop(Settings settings) {
    this.s = settings;
    this.uri = settings.controlPlanes().uris().get(0);
    this.inflater = worker("configsync-inflate");
    this.decoder =
        new PayloadDecoder(settings.maxPayloadBytes(), settings.maxInflatedBytes(), inflater);
    this.files = new ConfigFiles(decoder, settings.maxPayloadBytes(), settings.maxInflatedBytes());
    this.pipeline = worker("configsync-pipeline");
    this.cacheWriter = worker("configsync-cache-writer");
    this.backupWorker = worker("configsync-backup");
    this.reporter = new UsageReporter(settings.usage());
    this.cacheState = settings.store() == null ? CacheState.NO_STORE : CacheState.EMPTY;
    this.status = buildStatus();
  }

  /** One daemon thread, started on demand and ended after 30 s idle. */
  static ExecutorService worker(String name) {
    ThreadPoolExecutor executor =
        new ThreadPoolExecutor(
            1,
            1,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, name);
              t.setDaemon(true);
              return t;
            });
    executor.allowCoreThreadTimeOut(true); // idle clients hold no worker threads
    return executor;
  }

  // ---- lifecycle (called by ConfigSyncClient) -----------------------------------------------

  /** Seeds from the cache on the calling thread, then starts connecting in the background. */
  void start() {
    if (closing.get()) {
      throw new IllegalStateException("the client is closed; build a new one");
    }
    UUID id;
    try {
      id =
          s.nodeId() != null
              ? s.nodeId()
              : (s.store() != null ? s.store().nodeId() : UUID.randomUUID());
    } catch (IOException e) {
      throw new ConfigSyncException(
          "cannot read or create the node identity in " + describeStore() + ": " + e.getMessage(),
          e);
    }
    Optional<ConfigSnapshot> cached = loadCache();
    Path fallback = s.fallbackConfig();
    Optional<ConfigSnapshot> seed =
        cached.isEmpty() && fallback != null ? loadFallback(fallback) : cached;
    runInLoopAndWait(
        () -> {
          if (state == SyncState.CLOSED) {
            return; // closed while starting
          }
          nodeId = id;
          state = SyncState.STARTING;
          log.info("configsync node {} starting; control plane {}", id, s.controlPlanes());
          reporter.start(id, s.hostname(), s.nodeVersion());
          if (seed.isPresent()) {
            if (seed.get().source() == SnapshotSource.CACHE) {
              cacheState = CacheState.CURRENT;
            }
            publish(seed.get(), s.scheduler().nanoTime());
          } else {
            importOnFirstFailure = s.backupImport() != null;
            String why =
                (s.store() == null
                        ? "no snapshot store is configured"
                        : "no valid cached configuration in " + describeStore())
                    + (s.fallbackConfig() == null ? "" : ", and no usable fallback configuration");
            log.warn(
                "configsync node {} starts EMPTY ({}): it serves nothing until the control plane"
                    + " sends a configuration",
                id,
                why);
            refreshStatus();
            emit(new SyncEvent.StartedEmpty(now(), why));
          }
          connect();
        });
  }

  Optional<ConfigSnapshot> current() {
    return Optional.ofNullable(current);
  }

  SyncStatus status() {
    return status.withUsage(reporter.status());
  }

  UsageRecorder usage() {
    return reporter.recorder();
  }

  Optional<ConfigSnapshot> awaitFirstSnapshot(Duration timeout) throws InterruptedException {
    // On the listener thread the listeners cannot run while the caller waits: waiting for them
    // would only wait out the timeout. There, the apply itself is waited for.
    CountDownLatch latch = s.dispatcher().onListenerThread() ? firstApplied : firstDelivered;
    latch.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    return current();
  }

  void close() {
    if (!closing.compareAndSet(false, true)) {
      return; // closed, or being closed by another thread: Stopped is emitted once
    }
    if (loop.inContext()) {
      // Called from a listener on a direct executor: it runs inside the loop, perhaps on a worker
      // thread, and the loop cannot wait for itself nor a worker for its own end. Stop now, and
      // finish after the task under way, so that its events still come before Stopped.
      shutdownInLoop();
      loop.execute(() -> finishClose(false));
      return;
    }
    runInLoopAndWait(this::shutdownInLoop);
    finishClose(true);
  }

  /** Stops the threads (waiting for them to end if {@code wait}), the transport; emits Stopped. */
  private void finishClose(boolean wait) {
    if (wait) {
      pipeline.shutdownNow();
    } else {
      pipeline.shutdown(); // this may be the pipeline thread: do not interrupt it
    }
    backupWorker.shutdownNow(); // a backup is best effort; a node never waits for it to stop
    cacheWriter.shutdown(); // a write under way finishes: the store's write is atomic anyway
    // Interrupted, an inflating task stops; the decode waiting for it then fails, as it should.
    inflater.shutdownNow();
    boolean fromListener = !wait || s.dispatcher().onListenerThread();
    try {
      if (wait) {
        awaitQuietly(pipeline, Duration.ofSeconds(5));
        awaitQuietly(inflater, Duration.ofSeconds(5));
        awaitQuietly(cacheWriter, s.cacheWriteTimeout());
      }
      if (s.ownedScheduler() != null) {
        s.ownedScheduler().close();
      }
    } catch (Exception e) {
      log.debug("error while stopping the timer", e);
    }
    reporter.close(); // before the transport: a last batch may still be written
    try {
      s.transport().close();
    } catch (RuntimeException e) {
      log.warn("configsync transport failed to close cleanly", e);
    }
    emit(new SyncEvent.Stopped(now()));
    ExecutorService listeners = s.ownedListenerExecutor();
    if (listeners != null) {
      listeners.shutdown();
      if (!fromListener) {
        awaitQuietly(listeners, Duration.ofSeconds(5));
      }
    }
    log.info("configsync node {} stopped", nodeId);
  }

  private static void awaitQuietly(ExecutorService executor, Duration timeout) {
    try {
      if (!executor.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        log.warn("configsync thread did not stop within {}; leaving it (daemon)", timeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void runInLoopAndWait(Runnable task) {
    CountDownLatch done = new CountDownLatch(1);
    loop.execute(
        () -> {
          try {
            task.run();
          } finally {
            done.countDown();
          }
        });
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void shutdownInLoop() {
    state = SyncState.CLOSED;
    epoch++;
    if (licenseTimer != null) {
      licenseTimer.cancel();
    }
    if (exportTimer != null) {
      exportTimer.cancel();
    }
    cancelTimers();
    if (retryTimer != null) {
      retryTimer.cancel();
    }
    pendingPayload = null;
    PendingApply p = pendingApply;
    pendingApply = null;
    Transport.Connection c = connection;
    connection = null;
    if (c != null) {
      try {
        c.close(1000, "data plane shutting down");
      } catch (RuntimeException e) {
        log.warn("configsync transport failed to close a connection", e);
        c.cancel();
      }
    }
    if (p != null) {
      p.abandon("the client was closed before configuration " + p.snapshot.hash() + " applied");
    }
    refreshStatus();
  }

  // ---- start-up from the cache ---------------------------------------------------------------

  private Optional<ConfigSnapshot> loadCache() {
    SnapshotStore store = s.store();
    if (store == null) {
      return Optional.empty();
    }
    Optional<byte[]> bytes;
    try {
      bytes = store.read();
    } catch (IOException e) {
      moveAside(store, "cannot be read: " + e.getMessage());
      return Optional.empty();
    }
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    ConfigSnapshot snapshot;
    try {
      snapshot = decoder.decode(bytes.get(), SnapshotSource.CACHE, s.clock().instant());
    } catch (ConfigRejectedException e) {
      moveAside(store, e.getMessage());
      return Optional.empty();
    }
    try {
      snapshot = check(snapshot);
    } catch (ConfigRejectedException e) {
      log.warn(
          "configsync cached configuration {} refused by the validator: {}",
          e.hash(),
          e.getMessage());
      emit(
          new SyncEvent.SnapshotRejected(
              now(), e.hash(), SnapshotSource.CACHE, e.reason(), e.getMessage()));
      return Optional.empty();
    }
    log.info(
        "configsync loaded cached configuration {} from {}", snapshot.hash(), store.describe());
    return Optional.of(snapshot);
  }

  private Optional<ConfigSnapshot> loadFallback(Path file) {
    try {
      ConfigSnapshot snapshot = check(files.read(file, SnapshotSource.FALLBACK, now()));
      log.info("configsync loaded fallback configuration {} from {}", snapshot.hash(), file);
      return Optional.of(snapshot);
    } catch (ConfigFileException e) {
      log.error("configsync fallback configuration unusable: {}", e.getMessage());
      ConfigRejectedException rejection = fileRejection(e);
      emit(
          new SyncEvent.SnapshotRejected(
              now(),
              rejection.hash(),
              SnapshotSource.FALLBACK,
              rejection.reason(),
              rejection.getMessage()));
    } catch (ConfigRejectedException e) {
      log.error("configsync fallback configuration {} refused: {}", file, e.getMessage());
      emit(
          new SyncEvent.SnapshotRejected(
              now(), e.hash(), SnapshotSource.FALLBACK, e.reason(), e.getMessage()));
    }
    return Optional.empty();
  }

  /**
   * Reads, checks and applies a configuration given by hand, and waits until it runs (cache written
   * first, as for any configuration). Called from a user thread.
   */
  ConfigSnapshot loadManual(Path file, boolean force) throws InterruptedException {
    if (loop.inContext()) {
      throw new IllegalStateException(
          "loadManual cannot be called from a listener running on a direct executor");
    }
    ConfigSnapshot snapshot;
    try {
      snapshot = check(files.read(file, SnapshotSource.MANUAL, now()));
    } catch (ConfigFileException e) {
      manualRefused(file, fileRejection(e));
      throw e;
    } catch (ConfigRejectedException e) {
      manualRefused(file, e);
      throw e;
    }
    CompletableFuture<ConfigSnapshot> done = new CompletableFuture<>();
    loop.execute(
        () -> {
          if (state == SyncState.NEW || state == SyncState.CLOSED) {
            done.completeExceptionally(
                new IllegalStateException("the client is " + state + "; start() it first"));
          } else if (state == SyncState.CONNECTED && !force) {
            done.completeExceptionally(
                new IllegalStateException(
                    "connected to the control plane, which is the source of truth and would"
                        + " replace a manual configuration at once; load by hand while"
                        + " disconnected, or call loadManual(file, true) to force it"));
          } else {
            log.info(
                "configsync node {} loading configuration {} by hand from {}",
                nodeId,
                snapshot.hash(),
                file);
            accept(snapshot, false, done, s.scheduler().nanoTime());
          }
        });
    try {
      return done.get();
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      throw new ConfigSyncException("manual load failed: " + cause, cause);
    }
  }

  /**
   * A configuration file refused for what it holds, as a rejection: reason {@code BAD_FILE}, the
   * message naming the file (and line and column), the hash if the file got as far as claiming one.
   */
  private static ConfigRejectedException fileRejection(ConfigFileException e) {
    @Nullable String hash = e.getCause() instanceof ConfigRejectedException r ? r.hash() : null;
    return new ConfigRejectedException(Reason.BAD_FILE, hash, e.getMessage(), e);
  }

  /** Reports a refused manual load like any refused configuration (the caller gets the error). */
  private void manualRefused(Path file, ConfigRejectedException e) {
    loop.execute(
        () -> {
          log.warn(
              "configsync node {} refused the configuration loaded by hand from {} ({}): {}",
              nodeId,
              file,
              e.reason(),
              e.getMessage());
          if (state == SyncState.NEW || state == SyncState.CLOSED) {
            return; // nothing is reported before start() or after Stopped
          }
          rejectedCount++;
          lastError = e.getMessage();
          refreshStatus();
          emit(
              new SyncEvent.SnapshotRejected(
                  now(), e.hash(), SnapshotSource.MANUAL, e.reason(), e.getMessage()));
        });
  }

  private void moveAside(SnapshotStore store, String reason) {
    String movedTo;
    try {
      movedTo = store.moveAside(reason);
    } catch (IOException e) {
      movedTo = "(could not be moved: " + e.getMessage() + ")";
    }
    log.warn(
        "configsync cached configuration in {} is damaged ({}); moved to {}; going on without it",
        store.describe(),
        reason,
        movedTo);
    emit(new SyncEvent.CacheDamaged(now(), reason, movedTo));
  }

  // ---- connection -----------------------------------------------------------------------------

  private void connect() {
    if (state == SyncState.CLOSED) {
      return;
    }
    retryTimer = null;
    state = SyncState.CONNECTING;
    attemptsSinceData++;
    connectAttempts++;
    int myEpoch = ++epoch;
    URI target = s.controlPlanes().pick(endpoint);
    endpoint = target;
    uri = OutletUri.of(target, nodeId, s.hostname(), s.nodeVersion());
    refreshStatus();
    emit(new SyncEvent.Connecting(now(), target, attemptsSinceData));
    log.debug("configsync node {} connecting to {} (attempt {})", nodeId, uri, attemptsSinceData);
    connection =
        s.transport()
            .connect(
                new Transport.ConnectRequest(uri, s.maxPayloadBytes(), s.handshakeTimeout()),
                new ConnectionEvents(myEpoch));
    // The transport has its own timeouts; this one also covers a peer that accepts TCP and then
    // says nothing, whatever the transport does.
    handshakeTimer =
        s.scheduler()
            .schedule(
                () ->
                    loop.execute(
                        () -> {
                          if (myEpoch == epoch && state == SyncState.CONNECTING) {
                            connectionLost(
                                "connection not established within " + s.handshakeTimeout());
                          }
                        }),
                s.handshakeTimeout());
  }

  private final class ConnectionEvents implements Transport.Listener {
    private final int myEpoch;

    ConnectionEvents(int myEpoch) {
      this.myEpoch = myEpoch;
    }

    private void post(Runnable task) {
      loop.execute(
          () -> {
            if (myEpoch == epoch) {
              task.run();
            }
          });
    }

    @Override
    public void onOpen() {
      post(SyncLoop.this::onOpen);
    }

    @Override
    public void onBinary(byte[] payload) {
      post(
          () -> {
            touch();
            onPayload(payload);
          });
    }

    @Override
    public void onPong(byte[] payload) {
      post(SyncLoop.this::touch);
    }

    @Override
    public void onPing(byte[] payload) {
      post(SyncLoop.this::touch);
    }

    @Override
    public void onProgress() {
      // Part of a frame: the peer is alive, but no message arrived, so the backoff is not reset.
      post(() -> lastReceivedNanos = s.scheduler().nanoTime());
    }

    @Override
    public void onClosed(int code, String reason) {
      post(
          () ->
              connectionLost(
                  "control plane closed the connection ("
                      + code
                      + (reason.isEmpty() ? "" : " " + reason)
                      + ")"));
    }

    @Override
    public void onFailure(Throwable error) {
      post(() -> connectionLost(describe(error)));
    }
  }

  private static String describe(Throwable error) {
    String message = error.getMessage();
    String type = error.getClass().getSimpleName();
    return message == null || message.isBlank() ? type : type + ": " + message;
  }

  private void onOpen() {
    if (state != SyncState.CONNECTING) {
      return;
    }
    Transport.Connection c = connection;
    if (c == null) {
      return;
    }
    if (handshakeTimer != null) {
      handshakeTimer.cancel();
      handshakeTimer = null;
    }
    state = SyncState.CONNECTED;
    importOnFirstFailure = false; // the control plane answered: it, not a backup, seeds the node
    lastReceivedNanos = s.scheduler().nanoTime();
    c.sendBinary(HybridProtocol.basicInfo(s.capabilities(), s.labels()));
    ConfigSnapshot running = current;
    c.sendPing(HybridProtocol.pingPayload(running == null ? null : running.hash()));
    URI at = endpoint != null ? endpoint : s.controlPlanes().uris().get(0);
    log.info(
        "configsync node {} connected to {}; running {}",
        nodeId,
        at,
        running == null ? "no configuration" : running.hash());
    refreshStatus();
    emit(new SyncEvent.Connected(now(), at));
    int myEpoch = epoch;
    scheduleHeartbeat(myEpoch);
    scheduleDeadCheck(myEpoch, s.deadAfter());
  }

  private void touch() {
    lastReceivedNanos = s.scheduler().nanoTime();
    lastContact = now();
    attemptsSinceData = 0; // a connection that delivered data resets the backoff
  }

  private void scheduleHeartbeat(int myEpoch) {
    heartbeatTimer =
        s.scheduler()
            .schedule(
                () ->
                    loop.execute(
                        () -> {
                          if (myEpoch == epoch && state == SyncState.CONNECTED) {
                            sendPing();
                            scheduleHeartbeat(myEpoch);
                          }
                        }),
                s.heartbeatInterval());
  }

  private void scheduleDeadCheck(int myEpoch, Duration delay) {
    deadTimer =
        s.scheduler()
            .schedule(
                () ->
                    loop.execute(
                        () -> {
                          if (myEpoch != epoch || state != SyncState.CONNECTED) {
                            return;
                          }
                          long silent = s.scheduler().nanoTime() - lastReceivedNanos;
                          long limit = s.deadAfter().toNanos();
                          if (silent >= limit) {
                            connectionLost(
                                "nothing from the control plane for "
                                    + Duration.ofNanos(silent).toMillis()
                                    + " ms (dead after "
                                    + s.deadAfter().toMillis()
                                    + " ms)");
                          } else {
                            scheduleDeadCheck(myEpoch, Duration.ofNanos(limit - silent));
                          }
                        }),
                delay);
  }

  private void sendPing() {
    Transport.Connection c = connection;
    ConfigSnapshot running = current;
    if (c != null && state == SyncState.CONNECTED) {
      c.sendPing(HybridProtocol.pingPayload(running == null ? null : running.hash()));
    }
  }

  private void cancelTimers() {
    for (Scheduler.Cancellable t :
        new Scheduler.Cancellable[] {handshakeTimer, heartbeatTimer, deadTimer}) {
      if (t != null) {
        t.cancel();
      }
    }
    handshakeTimer = null;
    heartbeatTimer = null;
    deadTimer = null;
  }

  private void connectionLost(String reason) {
    if (state == SyncState.CLOSED) {
      return;
    }
    if (importOnFirstFailure) {
      importOnFirstFailure = false;
      if (current == null && pendingApply == null) {
        startImport();
      }
    }
    cancelTimers();
    epoch++; // anything still arriving from the old connection is ignored
    Transport.Connection c = connection;
    connection = null;
    if (c != null) {
      c.cancel();
    }
    long delayMillis = Math.max(0, s.reconnectBackoff().apply(Math.max(1, attemptsSinceData)));
    Duration retryIn = Duration.ofMillis(delayMillis);
    state = SyncState.WAITING_RETRY;
    lastError = reason;
    reconnects++;
    metrics().reconnect();
    log.info(
        "configsync node {} disconnected: {}; keeps serving {}; retrying in {} ms",
        nodeId,
        reason,
        current == null ? "nothing" : current.hash(),
        delayMillis);
    refreshStatus();
    emit(new SyncEvent.Disconnected(now(), reason, retryIn));
    retryTimer = s.scheduler().schedule(() -> loop.execute(this::connect), retryIn);
  }

  // ---- apply pipeline -------------------------------------------------------------------------

  private void onPayload(byte[] payload) {
    metrics().payloadReceived(payload.length);
    if (pendingPayload != null) {
      log.debug("configsync: a newer configuration replaces one not yet decoded");
    }
    pendingPayload = payload; // latest wins
    maybeDecode();
  }

  private void maybeDecode() {
    byte[] payload = pendingPayload;
    if (decoding || payload == null || state == SyncState.CLOSED) {
      return;
    }
    pendingPayload = null;
    decoding = true;
    long started = s.scheduler().nanoTime();
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
                          "configuration could not be processed: " + describe(e),
                          e),
                      false,
                      0);
            }
            Decoded outcome = result.startedAt(started);
            loop.execute(() -> onDecoded(outcome));
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      decoding = false; // closing
    }
  }

  /** The outcome of decoding on the pipeline thread. */
  private record Decoded(
      @Nullable ConfigSnapshot snapshot,
      @Nullable ConfigRejectedException error,
      boolean same,
      long startedNanos) {
    Decoded startedAt(long nanos) {
      return new Decoded(snapshot, error, same, nanos);
    }
  }

  /** Runs on the pipeline thread: no loop state here. */
  private Decoded decodeAndValidate(byte[] payload) {
    try {
      ConfigSnapshot snapshot =
          decoder.decode(payload, SnapshotSource.CONTROL_PLANE, s.clock().instant());
      ConfigSnapshot running = current;
      if (running != null && running.hash().equals(snapshot.hash())) {
        return new Decoded(snapshot, null, true, 0); // no need to validate what already runs
      }
      return new Decoded(check(snapshot), null, false, 0);
    } catch (ConfigRejectedException e) {
      return new Decoded(null, e, false, 0);
    }
  }

  /** License (when enabled), then the user's validator. Returns the snapshot with its license. */
  private ConfigSnapshot check(ConfigSnapshot snapshot) {
    LicenseVerifier verifier = s.licenseVerifier();
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
    if (state != SyncState.CLOSED) {
      if (result.error() != null) {
        reject(result.error());
      } else if (result.snapshot() != null) {
        ConfigSnapshot running = current;
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

  private void reject(ConfigRejectedException e) {
    rejectedCount++;
    lastError = e.getMessage();
    metrics().rejected(e.reason());
    log.warn(
        "configsync node {} rejected configuration {} ({}): {}; keeps running {}",
        nodeId,
        e.hash() == null ? "(unknown hash)" : e.hash(),
        e.reason(),
        e.getMessage(),
        current == null ? "nothing" : current.hash());
    refreshStatus();
    emit(
        new SyncEvent.SnapshotRejected(
            now(), e.hash(), SnapshotSource.CONTROL_PLANE, e.reason(), e.getMessage()));
    Transport.Connection c = connection;
    if (s.reportErrors() && c != null && state == SyncState.CONNECTED) {
      c.sendBinary(
          HybridProtocol.errorReport(e.reason().name(), e.getMessage(), e.hash(), "configsync"));
    }
  }

  /**
   * Starts applying {@code snapshot}: cache write, then publish. {@code done}, when given, learns
   * the outcome (the snapshot that runs, or why it never will).
   */
  private void accept(
      ConfigSnapshot snapshot,
      boolean sameAsRunning,
      @Nullable CompletableFuture<ConfigSnapshot> done,
      long startedNanos) {
    ConfigSnapshot running = current;
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
        current = running.withSource(SnapshotSource.CONTROL_PLANE);
        refreshStatus();
        if (s.backupExport() != null) {
          scheduleExport();
        }
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
    SnapshotStore store = s.store();
    if (store == null) {
      publish(snapshot, startedNanos);
      if (done != null) {
        done.complete(snapshot);
      }
      return;
    }
    PendingApply next =
        new PendingApply(snapshot, done == null ? new CompletableFuture<>() : done, startedNanos);
    pendingApply = next;
    try {
      next.write =
          cacheWriter.submit(
              () -> {
                @Nullable Exception failure = null;
                long writeStarted = s.scheduler().nanoTime();
                try {
                  store.write(snapshot.payload());
                } catch (IOException | RuntimeException e) {
                  failure = e;
                }
                Exception f = failure;
                Duration took = Duration.ofNanos(s.scheduler().nanoTime() - writeStarted);
                loop.execute(
                    () -> {
                      metrics().cacheWrite(took, f == null);
                      onCacheWriteDone(next, f);
                    });
              });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      pendingApply = null; // closing
      next.done.completeExceptionally(new IllegalStateException("the client is closing"));
      return;
    }
    next.timeout =
        s.scheduler()
            .schedule(() -> loop.execute(() -> onCacheWriteTimeout(next)), s.cacheWriteTimeout());
  }

  private void onCacheWriteDone(PendingApply p, @Nullable Exception failure) {
    if (state == SyncState.CLOSED) {
      return; // nothing is reported after Stopped
    }
    if (pendingApply != p) {
      // Either it outlived its time limit and the snapshot was applied without it (then it is
      // current, and now cached after all), or a newer configuration superseded it (never current).
      if (failure == null && current == p.snapshot) {
        cacheState = CacheState.CURRENT;
        lastCacheWrite = now();
        refreshStatus();
        emit(new SyncEvent.CacheWritten(now(), p.snapshot.hash(), p.snapshot.payload().length));
      }
      return;
    }
    pendingApply = null;
    if (p.timeout != null) {
      p.timeout.cancel();
    }
    if (failure == null) {
      cacheState = CacheState.CURRENT;
      lastCacheWrite = now();
      emit(new SyncEvent.CacheWritten(now(), p.snapshot.hash(), p.snapshot.payload().length));
    } else {
      cacheState = CacheState.STALE;
      String reason = describe(failure);
      log.warn(
          "configsync could not cache configuration {} ({}); applying it anyway: a restart now"
              + " would come back on an older configuration",
          p.snapshot.hash(),
          reason);
      emit(new SyncEvent.CacheWriteFailed(now(), p.snapshot.hash(), reason));
    }
    publish(p.snapshot, p.startedNanos);
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
    emit(new SyncEvent.CacheWriteFailed(now(), p.snapshot.hash(), reason));
    publish(p.snapshot, p.startedNanos);
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

  private void publish(ConfigSnapshot snapshot, long startedNanos) {
    ConfigSnapshot previous = current;
    if (previous != null
        && previous.source() == SnapshotSource.MANUAL
        && snapshot.source() == SnapshotSource.CONTROL_PLANE
        && !previous.hash().equals(snapshot.hash())) {
      log.info(
          "configsync node {}: the control plane's configuration {} replaces the one loaded by"
              + " hand ({})",
          nodeId,
          snapshot.hash(),
          previous.hash());
      emit(new SyncEvent.ManualConfigReplaced(now(), previous.hash(), snapshot.hash()));
    }
    if (previous != null && previous.hash().equals(snapshot.hash())) {
      // The running configuration came back while a newer one waited for its cache write (the
      // control plane reverted), or the control plane confirmed a configuration the node had
      // built itself. It was written again, so the cache matches what runs; the gateway already
      // has it, so listeners hear nothing new.
      current = snapshot;
      refreshStatus();
      if (s.backupExport() != null && snapshot.source() == SnapshotSource.CONTROL_PLANE) {
        scheduleExport();
      }
      log.debug("configsync: configuration {} is running again; cache rewritten", snapshot.hash());
      return;
    }
    current = snapshot;
    appliedCount++;
    // One instant for the apply and the license events it causes (stamped apart, an event could
    // carry a later time than one delivered after it).
    Instant appliedAt = now();
    lastApplied = appliedAt;
    metrics().applied(snapshot.source(), Duration.ofNanos(s.scheduler().nanoTime() - startedNanos));
    List<SyncEvent> licenseEvents = updateLicense(snapshot.license().orElse(null), appliedAt);
    refreshStatus();
    boolean first = firstApplied.getCount() > 0;
    firstApplied.countDown();
    log.info(
        "configsync node {} applied configuration {} from {} (was {})",
        nodeId,
        snapshot.hash(),
        snapshot.source(),
        previous == null ? "none" : previous.hash());
    for (Consumer<ConfigSnapshot> listener : s.snapshotListeners()) {
      s.dispatcher().dispatch("onSnapshot", () -> listener.accept(snapshot));
    }
    if (first) {
      // Queued behind the onSnapshot callbacks: runs once they have all returned (or thrown).
      s.dispatcher().dispatch("first snapshot delivered", firstDelivered::countDown);
    }
    // The license events this configuration causes come just before its SnapshotApplied, with the
    // same time: a listener that acts on SnapshotApplied (the agent writes its output file) then
    // knows the license state already, and what it reports comes after both, in time order.
    licenseEvents.forEach(this::emit);
    emit(
        new SyncEvent.SnapshotApplied(
            appliedAt,
            snapshot.hash(),
            snapshot.source(),
            previous == null ? null : previous.hash()));
    if (s.backupExport() != null && snapshot.source() == SnapshotSource.CONTROL_PLANE) {
      scheduleExport();
    }
    // Tell the control plane only once the listeners have taken the new configuration in.
    s.dispatcher()
        .dispatch(
            "ping after apply",
            () ->
                loop.execute(
                    () -> {
                      if (current == snapshot) {
                        sendPing();
                      }
                    }));
  }

  // ---- backups ------------------------------------------------------------------------------

  /** Exports the running configuration now, or when the export delay allows (latest wins). */
  private void scheduleExport() {
    if (exportTimer != null) {
      return; // the pending export will take whatever runs when it fires
    }
    long now = s.scheduler().nanoTime();
    long wait = everExported ? lastExportNanos + s.backupExportDelay().toNanos() - now : 0;
    if (wait <= 0) {
      exportNow();
      return;
    }
    exportTimer =
        s.scheduler()
            .schedule(
                () ->
                    loop.execute(
                        () -> {
                          exportTimer = null;
                          if (state != SyncState.CLOSED) {
                            exportNow();
                          }
                        }),
                Duration.ofNanos(wait));
  }

  private void exportNow() {
    BackupStore store = s.backupExport();
    ConfigSnapshot running = current;
    if (store == null || running == null || running.source() != SnapshotSource.CONTROL_PLANE) {
      return;
    }
    everExported = true;
    lastExportNanos = s.scheduler().nanoTime();
    String version = s.backupVersion();
    try {
      backupWorker.execute(
          () -> {
            try {
              store.put(version, running.payload());
              loop.execute(
                  () -> {
                    if (state == SyncState.CLOSED) {
                      return; // nothing is reported after Stopped
                    }
                    log.info(
                        "configsync node {} exported configuration {} to {}",
                        nodeId,
                        running.hash(),
                        store.describe());
                    emit(new SyncEvent.BackupExported(now(), running.hash(), store.describe()));
                  });
            } catch (IOException | RuntimeException e) {
              loop.execute(() -> backupFailed("export", running.hash(), describe(e)));
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("backup export skipped: closing");
    }
  }

  /** Seeds a node that has nothing, after its first connection attempt failed. */
  private void startImport() {
    BackupStore store = s.backupImport();
    if (store == null) {
      return;
    }
    String version = s.backupVersion();
    log.info(
        "configsync node {} has no configuration and cannot reach the control plane; importing"
            + " the backup for version {} from {}",
        nodeId,
        version,
        store.describe());
    try {
      backupWorker.execute(
          () -> {
            try {
              Optional<byte[]> copy = store.get(version);
              if (copy.isEmpty()) {
                loop.execute(
                    () ->
                        backupFailed(
                            "import",
                            null,
                            "no backup for version " + version + " in " + store.describe()));
                return;
              }
              ConfigSnapshot snapshot =
                  check(decoder.decode(copy.get(), SnapshotSource.BACKUP, s.clock().instant()));
              loop.execute(
                  () -> {
                    if (state != SyncState.CLOSED && current == null && pendingApply == null) {
                      accept(snapshot, false, null, s.scheduler().nanoTime());
                    }
                  });
            } catch (ConfigRejectedException e) {
              // The reason code (HASH_MISMATCH, LICENSE...) tells a tampered copy from a refusal.
              loop.execute(
                  () -> backupFailed("import", e.hash(), e.reason() + ": " + e.getMessage()));
            } catch (IOException | RuntimeException e) {
              loop.execute(() -> backupFailed("import", null, describe(e)));
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("backup import skipped: closing");
    }
  }

  private void backupFailed(String operation, @Nullable String hash, String reason) {
    if (state == SyncState.CLOSED) {
      return; // nothing is reported after Stopped
    }
    log.warn("configsync node {}: backup {} failed: {}", nodeId, operation, reason);
    emit(new SyncEvent.BackupFailed(now(), operation, hash, reason));
  }

  // ---- license ------------------------------------------------------------------------------

  /** The longest a license timer sleeps, so that a wall-clock jump is noticed within it. */
  private static final Duration LICENSE_RECHECK = Duration.ofHours(1);

  private @Nullable Instant warnedFor;

  /**
   * Takes {@code next} as the running license at {@code now}; returns the events the change calls
   * for, stamped {@code now}.
   */
  private List<SyncEvent> updateLicense(@Nullable License next, Instant now) {
    if (s.licenseVerifier() == null) {
      return List.of();
    }
    license = next;
    LicenseState before = licenseState;
    licenseState = LicenseVerifier.stateAt(next, now, s.licenseWarning());
    scheduleLicenseCheck(now);
    List<SyncEvent> events = new ArrayList<>();
    if (next == null) {
      return events;
    }
    Instant expiresAt = next.expiresAt();
    if (licenseState == LicenseState.EXPIRED) {
      if (before != LicenseState.EXPIRED) {
        log.error(
            "configsync node {}: the license expired at {}; the node STOPS SERVING until a"
                + " configuration with a renewed license arrives",
            nodeId,
            expiresAt);
        events.add(new SyncEvent.LicenseExpired(now, expiresAt));
      }
      return events;
    }
    if (before == LicenseState.EXPIRED) {
      log.info("configsync node {}: license renewed until {}; serving again", nodeId, expiresAt);
      events.add(new SyncEvent.LicenseRenewed(now, expiresAt));
    }
    if (licenseState == LicenseState.EXPIRING && !expiresAt.equals(warnedFor)) {
      warnedFor = expiresAt;
      log.warn(
          "configsync node {}: the license expires at {}; renew it before then or the node stops"
              + " serving",
          nodeId,
          expiresAt);
      events.add(new SyncEvent.LicenseExpiring(now, expiresAt));
    }
    return events;
  }

  private void scheduleLicenseCheck(Instant now) {
    if (licenseTimer != null) {
      licenseTimer.cancel();
      licenseTimer = null;
    }
    License running = license;
    if (running == null || licenseState == LicenseState.EXPIRED || state == SyncState.CLOSED) {
      return;
    }
    Instant boundary =
        licenseState == LicenseState.VALID
            ? running.expiresAt().minus(s.licenseWarning())
            : running.expiresAt();
    Duration delay = Duration.between(now, boundary);
    if (delay.compareTo(LICENSE_RECHECK) > 0) {
      delay = LICENSE_RECHECK;
    }
    if (delay.isNegative() || delay.isZero()) {
      delay = Duration.ofMillis(1);
    }
    licenseTimer =
        s.scheduler()
            .schedule(
                () ->
                    loop.execute(
                        () -> {
                          if (state == SyncState.CLOSED || !running.equals(license)) {
                            return;
                          }
                          List<SyncEvent> events = updateLicense(running, now());
                          refreshStatus();
                          events.forEach(this::emit);
                        }),
                delay);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private void emit(SyncEvent event) {
    for (Consumer<SyncEvent> listener : s.eventListeners()) {
      s.dispatcher().dispatch("onEvent", () -> listener.accept(event));
    }
  }

  private Instant now() {
    return s.clock().instant();
  }

  private SyncMetrics metrics() {
    return s.metrics();
  }

  private String describeStore() {
    SnapshotStore store = s.store();
    return store == null ? "(no store)" : store.describe();
  }

  private void refreshStatus() {
    status = buildStatus();
  }

  private SyncStatus buildStatus() {
    ConfigSnapshot running = current;
    return new SyncStatus(
        state,
        nodeId,
        running == null ? null : running.hash(),
        running == null ? null : running.source(),
        lastContact,
        lastApplied,
        connectAttempts,
        appliedCount,
        rejectedCount,
        lastError,
        licenseState,
        license == null ? null : license.expiresAt(),
        state != SyncState.CLOSED && licenseState != LicenseState.EXPIRED,
        reconnects,
        cacheState,
        lastCacheWrite,
        UsageStatus.OFF);
  }
}
