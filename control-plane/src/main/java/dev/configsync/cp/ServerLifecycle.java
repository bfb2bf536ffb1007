package dev.configsync.cp;

import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The collaborators of one {@link ControlPlaneServer}, wired from its settings, and the order in
 * which they start and stop: the facade's public methods delegate to the fields, this class only
 * builds, starts and stops them.
 *
 * <p><b>Start</b> ({@link #start}): the publisher loads the stored configuration, then the data
 * plane port is bound, then the admin port (when configured), then the housekeeping timers (TLS
 * file watch, forgetting disconnected nodes) and the fleet view start. A failure at any step closes
 * what was opened and is rethrown.
 *
 * <p><b>Stop</b> ({@link #close}): new publishes are refused first; the usage batches already
 * received are counted and their acks queued ahead of the close frames; every node is sent a close
 * frame and answered (or its bound runs out) before the event loops stop; then the fleet view, the
 * publisher and its store, and the configuration history are closed.
 *
 * <p><b>Threads.</b> The fields are final and their objects thread-safe. {@link #start} runs on the
 * thread that calls {@link ControlPlaneServer.Builder#start()}; {@link #close} on any thread (once
 * the publisher is closed, a call returns at once), as the facade's {@link
 * ControlPlaneServer#close()} documents.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class ServerLifecycle {
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  final ServerSettings settings;
  final TlsReloader tls;
  final NodeRegistry registry;
  final Outlet outlet;
  final UsageIngest usage;
  final ConfigPublisher publisher;
  final FleetView fleet;
  final NettyListeners listeners;
  final Instant startedAt;
  private @Nullable ScheduledFuture<?> sweeper;
  private @Nullable ScheduledFuture<?> tlsWatcher;
  private volatile boolean started; // open() completed: "stopped" is logged only after that

  private ServerLifecycle(ServerSettings b, ServerTls tls) {
    this.settings = b;
    this.tls = new TlsReloader(tls);
    this.registry =
        new NodeRegistry(b.clock, b.maxDataPlanes, b.maxRegistryBytes, b.maxNodeIdsPerCertificate);
    this.outlet =
        new Outlet(
            registry,
            b.version,
            b.capabilities,
            b.deadAfter(),
            b.handshakeTimeout,
            b.maxInboundFrameBytes,
            b.maxNodeLabels,
            b.maxNodePlugins,
            new ConfigHistory(b.deltaHistory, b.deltaHistoryBytes, b.maxDeltaFraction));
    this.usage = new UsageIngest(registry, outlet, b.onUsage);
    this.publisher = new ConfigPublisher(b, outlet);
    this.fleet = new FleetView(registry, usage, b.fleet);
    this.listeners = new NettyListeners(b.ioThreads);
    this.startedAt = b.clock.instant();
  }

  /**
   * Wires a server from {@code settings} (a copy nothing else changes) and starts it; on failure
   * releases what it had opened and rethrows.
   */
  static ServerLifecycle start(ServerSettings settings, ServerTls tls) throws IOException {
    ServerLifecycle server = new ServerLifecycle(settings, tls);
    try {
      server.open();
    } catch (IOException | RuntimeException e) {
      server.close();
      throw e;
    }
    return server;
  }

  private void open() throws IOException {
    publisher.start();
    listeners.bindOutlet(settings.listen, tls, settings.handshakeTimeout, outlet, usage);
    if (settings.admin != null) {
      AdminConnectionCounts counts = new AdminConnectionCounts();
      AdminBackend backend =
          new ServerBackend(publisher, fleet, outlet, tls, settings.version, startedAt);
      listeners.bindAdmin(
          settings.admin,
          new AdminConnections(
              new AdminEndpoints(backend, counts),
              counts,
              settings,
              listeners.adminPublishes(),
              listeners.adminReads()));
    }
    Duration reload = settings.tlsReloadInterval;
    if (!reload.isZero() && !tls.current().sourcePaths().isEmpty()) {
      tlsWatcher = listeners.withFixedDelay(tls::reloadIfChanged, reload);
    }
    long period =
        Math.max(
            10, Math.min(settings.forgetAfter.toMillis() / 4, Duration.ofMinutes(1).toMillis()));
    sweeper = listeners.atFixedRate(() -> registry.forget(settings.forgetAfter), period);
    fleet.start();
    log.info(
        "Control plane listening for data planes on {} ({} mode, version {}){}; store: {}",
        NettyListeners.hostPort(listeners.address()),
        tls.current().mode().name().toLowerCase(Locale.ROOT),
        settings.version,
        listeners
            .adminAddress()
            .map(
                a ->
                    ", admin API on http://"
                        + NettyListeners.hostPort(a)
                        + (settings.adminToken == null
                            ? " (no token)"
                            : " (bearer token required)"))
            .orElse(""),
        publisher.storeDescription());
    started = true;
  }

  /** See {@link ControlPlaneServer#close()}. */
  void close() {
    if (publisher.isClosed()) {
      return;
    }
    publisher.refuseNewPublishes();
    for (ScheduledFuture<?> timer : new ScheduledFuture<?>[] {sweeper, tlsWatcher}) {
      if (timer != null) {
        timer.cancel(false);
      }
    }
    // Count the usage batches already received, and queue their acks ahead of the close frames.
    List<ChannelFuture> closing = new ArrayList<>();
    for (IngestSession session : usage.close(Duration.ofSeconds(2))) {
      closing.add(session.closeFuture());
    }
    for (OutletSession session : new ArrayList<>(outlet.sessions)) {
      session.closeFromAnyThread(
          WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, "the control plane is shutting down");
      closing.add(session.closeFuture());
    }
    // The event loops must not close the connections (dropping close frames not yet sent) before
    // each node answered, or its bound ran out.
    CloseHandshake.awaitAll(closing);
    listeners.close();
    fleet.close(settings.store);
    publisher.close(); // no publish is saving now, and none will start
    outlet.history.close();
    if (started) {
      log.info("Control plane stopped");
    } else {
      // start() failed and said why; it never listened, so it did not "stop".
      log.debug("Released what the failed start had opened");
    }
  }
}
