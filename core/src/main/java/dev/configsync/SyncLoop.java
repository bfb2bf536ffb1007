package dev.configsync;

import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.ReconnectingLink;
import dev.configsync.internal.SerialContext;
import dev.configsync.internal.usage.UsageReporter;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SnapshotStore;
import dev.configsync.spi.SyncMetrics;
import dev.configsync.spi.Transport;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serial sync loop: the one owner of a client's state. It keeps the serial context, the
 * connection state and the status, seeds the node at start, and owns the running configuration; the
 * rest is done by collaborators that run only on the loop too: the control plane connection (a
 * {@link ReconnectingLink}), the {@link ApplyPipeline}, {@link BackupSync} and {@link
 * LicenseWatch}. Every field below the "loop state" line, and every collaborator's state, is read
 * and written only from tasks of {@link #loop}; transports, timers and the worker threads post
 * tasks to it and never touch the state themselves. See {@code docs/concurrency.md}.
 */
final class SyncLoop {
  private static final Logger log = LoggerFactory.getLogger(SyncLoop.class);

  private final SyncSettings s;
  private final SerialContext loop = new SerialContext();
  // Released by the loop when the first configuration applies, and once the onSnapshot listeners
  // have run for it.
  private final CountDownLatch firstApplied = new CountDownLatch(1);
  private final CountDownLatch firstDelivered = new CountDownLatch(1);
  private final AtomicBoolean closing = new AtomicBoolean();
  private final UsageReporter reporter;
  private final UsageRecorder usage;
  private final ApplyPipeline apply;
  private final BackupSync backups;
  private final LicenseWatch license;
  private final StartupSources seeds;
  private final ReconnectingLink link;

  // Read from any thread, written only by the loop.
  private volatile @Nullable ConfigSnapshot current;
  private volatile SyncStatus status;

  // ---- loop state -------------------------------------------------------------------------
  private SyncState state = SyncState.NEW;
  private UUID nodeId = new UUID(0, 0);
  private @Nullable Instant lastContact;
  private @Nullable Instant lastApplied;
  private long connectAttempts;
  private long appliedCount;
  private long rejectedCount;
  private @Nullable String lastError;
  private long reconnects;

  SyncLoop(SyncSettings settings) {
    this.s = settings;
    this.apply = new ApplyPipeline(this, settings.apply(), settings.licensing().verifier());
    this.backups = new BackupSync(this, settings.backups(), settings.node().backupVersion());
    this.license = new LicenseWatch(this, settings.licensing());
    this.seeds = new StartupSources(this, settings.apply().store());
    this.reporter = new UsageReporter(settings.usage());
    this.usage = new UsageRecorder(reporter.counters());
    SyncSettings.Link l = settings.link();
    this.link =
        new ReconnectingLink(
            new ReconnectingLink.Settings(
                l.transport(),
                settings.time().scheduler(),
                loop,
                l.controlPlanes(),
                l.backoff(),
                l.heartbeatInterval(),
                l.deadAfter(),
                l.handshakeTimeout(),
                settings.apply().maxPayloadBytes(),
                "connection",
                silent ->
                    "nothing from the control plane for "
                        + silent
                        + " ms (dead after "
                        + l.deadAfter().toMillis()
                        + " ms)",
                () -> {
                  ConfigSnapshot running = current;
                  return HybridProtocol.pingPayload(running == null ? null : running.hash());
                }),
            new ConnectionEvents());
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
    SnapshotStore store = s.apply().store();
    UUID configured = s.node().id();
    try {
      id = configured != null ? configured : (store != null ? store.nodeId() : UUID.randomUUID());
    } catch (IOException e) {
      throw new ConfigSyncException(
          "cannot read or create the node identity in " + describeStore() + ": " + e.getMessage(),
          e);
    }
    Optional<ConfigSnapshot> cached = seeds.loadCache();
    Path fallback = s.apply().fallbackConfig();
    Optional<ConfigSnapshot> seed =
        cached.isEmpty() && fallback != null ? seeds.loadFallback(fallback) : cached;
    runInLoopAndWait(
        () -> {
          if (state == SyncState.CLOSED) {
            return; // closed while starting
          }
          nodeId = id;
          state = SyncState.STARTING;
          log.info("configsync node {} starting; control plane {}", id, s.link().controlPlanes());
          reporter.start(id, s.node().hostname(), s.node().version());
          if (seed.isPresent()) {
            if (seed.get().source() == SnapshotSource.CACHE) {
              apply.startedFromCache();
            }
            publish(seed.get(), nanoTime());
          } else {
            backups.importOnFirstFailure();
            String why =
                (store == null
                        ? "no snapshot store is configured"
                        : "no valid cached configuration in " + describeStore())
                    + (fallback == null ? "" : ", and no usable fallback configuration");
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
    return usage;
  }

  Optional<ConfigSnapshot> awaitFirstSnapshot(Duration timeout) throws InterruptedException {
    // On the listener thread the listeners cannot run while the caller waits: waiting for them
    // would only wait out the timeout. There, the apply itself is waited for.
    CountDownLatch latch =
        s.listeners().dispatcher().onListenerThread() ? firstApplied : firstDelivered;
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
    backups.shutdown(); // a backup is best effort; a node never waits for it to stop
    apply.stopThreads(wait);
    boolean fromListener = !wait || s.listeners().dispatcher().onListenerThread();
    try {
      AutoCloseable timer = s.time().ownedScheduler();
      if (timer != null) {
        timer.close();
      }
    } catch (Exception e) {
      log.debug("error while stopping the timer", e);
    }
    reporter.close(); // before the transport: a last batch may still be written
    try {
      s.link().transport().close();
    } catch (RuntimeException e) {
      log.warn("configsync transport failed to close cleanly", e);
    }
    emit(new SyncEvent.Stopped(now()));
    ExecutorService listeners = s.listeners().ownedExecutor();
    if (listeners != null) {
      listeners.shutdown();
      if (!fromListener) {
        awaitQuietly(listeners, Duration.ofSeconds(5));
      }
    }
    log.info("configsync node {} stopped", nodeId);
  }

  static void awaitQuietly(ExecutorService executor, Duration timeout) {
    try {
      if (!executor.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        log.warn("configsync thread did not stop within {}; leaving it (daemon)", timeout);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void runInLoopAndWait(Runnable task) {
    loop.executeAndWait(task);
  }

  private void shutdownInLoop() {
    state = SyncState.CLOSED;
    license.cancel();
    backups.cancel();
    link.close("data plane shutting down");
    apply.shutdownInLoop();
    refreshStatus();
  }

  // ---- configurations given by hand ---------------------------------------------------------

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
      snapshot = apply.check(apply.files().read(file, SnapshotSource.MANUAL, now()));
    } catch (ConfigFileException e) {
      manualRefused(file, StartupSources.fileRejection(e));
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
            apply.accept(snapshot, false, done, nanoTime());
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

  // ---- connection -----------------------------------------------------------------------------

  private void connect() {
    if (state == SyncState.CLOSED) {
      return;
    }
    state = SyncState.CONNECTING;
    connectAttempts++;
    URI target = link.nextEndpoint();
    URI uri = OutletUri.of(target, nodeId, s.node().hostname(), s.node().version());
    refreshStatus();
    emit(new SyncEvent.Connecting(now(), target, link.attemptsSinceData()));
    log.debug(
        "configsync node {} connecting to {} (attempt {})", nodeId, uri, link.attemptsSinceData());
    link.open(uri);
  }

  /** The configuration stream's side of its connection. */
  private final class ConnectionEvents implements ReconnectingLink.Handler {
    @Override
    public void opened(Transport.Connection c) {
      if (state != SyncState.CONNECTING) {
        return;
      }
      state = SyncState.CONNECTED;
      backups.connected();
      c.sendBinary(
          HybridProtocol.basicInfo(
              s.node().capabilities(), s.node().labels(), s.link().deltaSync()));
      ConfigSnapshot running = current;
      c.sendPing(HybridProtocol.pingPayload(running == null ? null : running.hash()));
      URI endpoint = link.endpoint();
      URI at = endpoint != null ? endpoint : s.link().controlPlanes().uris().get(0);
      log.info(
          "configsync node {} connected to {}; running {}",
          nodeId,
          at,
          running == null ? "no configuration" : running.hash());
      refreshStatus();
      emit(new SyncEvent.Connected(now(), at));
    }

    @Override
    public void received(byte[] payload) {
      heard();
      apply.onPayload(payload);
    }

    @Override
    public void heard() {
      lastContact = now();
      link.resetBackoff(); // a connection that delivered data resets the backoff
    }

    @Override
    public void progress() {
      // Part of a frame: the peer is alive, but no message arrived, so the backoff is not reset.
      link.alive();
    }

    @Override
    public void lost(String reason) {
      connectionLost(reason);
    }
  }

  private void connectionLost(String reason) {
    if (state == SyncState.CLOSED) {
      return;
    }
    backups.connectionFailed(current != null || apply.applying());
    Duration retryIn = link.retryDelay();
    state = SyncState.WAITING_RETRY;
    lastError = reason;
    reconnects++;
    s.metrics().reconnect();
    log.info(
        "configsync node {} disconnected: {}; keeps serving {}; retrying in {} ms",
        nodeId,
        reason,
        current == null ? "nothing" : current.hash(),
        retryIn.toMillis());
    refreshStatus();
    emit(new SyncEvent.Disconnected(now(), reason, retryIn));
    link.retryAfter(retryIn, this::connect);
  }

  // ---- the running configuration ---------------------------------------------------------------

  /** The control plane confirms what runs: it becomes the control plane's, with no new apply. */
  void confirmRunning(ConfigSnapshot confirmed) {
    current = confirmed;
    refreshStatus();
    if (backups.exports()) {
      backups.scheduleExport();
    }
  }

  /**
   * A configuration was refused; with {@code askFull} it was a {@code reconfigure_delta} that did
   * not apply, and the control plane (a configsync one: only it sends those) is asked for the whole
   * configuration, whether error reports are on or not.
   */
  void reject(ConfigRejectedException e, boolean askFull) {
    rejectedCount++;
    lastError = e.getMessage();
    s.metrics().rejected(e.reason());
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
    Transport.Connection c = link.openConnection();
    if ((s.link().reportErrors() || askFull) && c != null && state == SyncState.CONNECTED) {
      c.sendBinary(
          HybridProtocol.errorReport(
              e.reason().name(), e.getMessage(), e.hash(), "configsync", askFull));
    }
  }

  void publish(ConfigSnapshot snapshot, long startedNanos) {
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
      if (backups.exports() && snapshot.source() == SnapshotSource.CONTROL_PLANE) {
        backups.scheduleExport();
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
    s.metrics().applied(snapshot.source(), Duration.ofNanos(nanoTime() - startedNanos));
    List<SyncEvent> licenseEvents = license.update(snapshot.license().orElse(null), appliedAt);
    refreshStatus();
    boolean first = firstApplied.getCount() > 0;
    firstApplied.countDown();
    log.info(
        "configsync node {} applied configuration {} from {} (was {})",
        nodeId,
        snapshot.hash(),
        snapshot.source(),
        previous == null ? "none" : previous.hash());
    ListenerDispatcher dispatcher = s.listeners().dispatcher();
    for (Consumer<ConfigSnapshot> listener : s.listeners().snapshots()) {
      dispatcher.dispatch("onSnapshot", () -> listener.accept(snapshot));
    }
    if (first) {
      // Queued behind the onSnapshot callbacks: runs once they have all returned (or thrown).
      dispatcher.dispatch("first snapshot delivered", firstDelivered::countDown);
    }
    // The license events this configuration causes come just before its SnapshotApplied, with the
    // same time: a listener that acts on SnapshotApplied (the agent writes its output file) then
    // knows the license state already, and what it reports comes after both, in time order.
    licenseEvents.forEach(this::emit);
    ConfigChanges known = snapshot.changesIfKnown();
    emit(
        new SyncEvent.SnapshotApplied(
            appliedAt,
            snapshot.hash(),
            snapshot.source(),
            previous == null ? null : previous.hash(),
            snapshot.cameAsDelta(),
            known == null ? null : known.entityCount()));
    if (backups.exports() && snapshot.source() == SnapshotSource.CONTROL_PLANE) {
      backups.scheduleExport();
    }
    // Tell the control plane only once the listeners have taken the new configuration in.
    dispatcher.dispatch(
        "ping after apply",
        () ->
            loop.execute(
                () -> {
                  if (current == snapshot) {
                    link.ping();
                  }
                }));
  }

  // ---- for the collaborators (on the loop unless said otherwise) ------------------------------

  /** The running configuration, or null. Any thread. */
  @Nullable ConfigSnapshot running() {
    return current;
  }

  UUID nodeId() {
    return nodeId;
  }

  boolean isClosed() {
    return state == SyncState.CLOSED;
  }

  ApplyPipeline pipeline() {
    return apply;
  }

  /** Runs {@code task} on the loop. Any thread. */
  void execute(Runnable task) {
    loop.execute(task);
  }

  /** Runs {@code task} on the loop after {@code delay}. */
  Scheduler.Cancellable schedule(Duration delay, Runnable task) {
    return s.time().scheduler().schedule(() -> loop.execute(task), delay);
  }

  void emit(SyncEvent event) {
    for (Consumer<SyncEvent> listener : s.listeners().events()) {
      s.listeners().dispatcher().dispatch("onEvent", () -> listener.accept(event));
    }
  }

  /** Wall-clock time. Any thread. */
  Instant now() {
    return s.time().clock().instant();
  }

  /** Monotonic time. Any thread. */
  long nanoTime() {
    return s.time().scheduler().nanoTime();
  }

  SyncMetrics metrics() {
    return s.metrics();
  }

  String describeStore() {
    SnapshotStore store = s.apply().store();
    return store == null ? "(no store)" : store.describe();
  }

  void refreshStatus() {
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
        license.state(),
        license.expiresAt(),
        state != SyncState.CLOSED && license.state() != LicenseState.EXPIRED,
        reconnects,
        apply.cacheState(),
        apply.lastCacheWrite(),
        UsageStatus.OFF);
  }
}
