package dev.configsync;

import dev.configsync.internal.ControlPlanes;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.internal.SerializedRandom;
import dev.configsync.internal.SystemScheduler;
import dev.configsync.internal.UniformBackoff;
import dev.configsync.internal.usage.UsageReporter;
import dev.configsync.spi.BackupStore;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SnapshotStore;
import dev.configsync.spi.SyncMetrics;
import dev.configsync.spi.Transport;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link ConfigSyncClient.Builder} has been told so far, with the defaults its javadoc
 * states, and the assembly that {@link ConfigSyncClient.Builder#build()} runs on it: the checks of
 * settings against each other, then the wiring of the transport, store, backups, timers, listeners
 * and telemetry into {@link SyncSettings} and a {@link SyncLoop}.
 *
 * <p>The builder checks each value when it is set and writes it here; {@link #assemble()} only
 * reads these fields and copies the collections, so a builder can build again, or be changed after
 * a build, without touching a client already built. Not thread-safe, like the builder.
 */
final class ClientAssembler {
  List<URI> controlPlanes = List.of();
  @Nullable Transport transport;
  @Nullable SnapshotStore store;
  @Nullable UUID nodeId;
  @Nullable String hostname;
  String nodeVersion = ConfigSyncClient.VERSION;
  final Map<String, String> capabilities = new LinkedHashMap<>();
  final Map<String, String> labels = new LinkedHashMap<>();
  Duration heartbeatInterval = Duration.ofSeconds(30);
  @Nullable Duration deadAfter;
  Duration reconnectMin = Duration.ofSeconds(5);
  Duration reconnectMax = Duration.ofSeconds(10);
  @Nullable ReconnectBackoff reconnectBackoff;
  Duration handshakeTimeout = Duration.ofSeconds(10);
  Duration cacheWriteTimeout = Duration.ofSeconds(10);
  int cacheJournalRecords = 64;
  double cacheJournalFraction = 0.25;
  long maxPayloadBytes = ConfigSyncClient.DEFAULT_MAX_PAYLOAD_BYTES;
  long maxInflatedBytes = ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;
  @Nullable ConfigValidator validator;
  boolean reportErrors;
  boolean deltaSync = true;
  final List<Consumer<ConfigSnapshot>> snapshotListeners = new ArrayList<>();
  final List<Consumer<SyncEvent>> eventListeners = new ArrayList<>();
  @Nullable Executor listenerExecutor;
  Clock clock = Clock.systemUTC();
  @Nullable Scheduler scheduler;
  @Nullable RandomGenerator random;
  @Nullable Path fallbackConfig;
  @Nullable LicenseVerifier licenseVerifier;
  Duration licenseWarning = Duration.ofDays(30);
  @Nullable BackupStore backupExport;
  @Nullable BackupStore backupImport;
  Duration backupExportDelay = Duration.ofSeconds(60);
  SyncMetrics metrics = SyncMetrics.NONE;
  boolean usageReporting = true;
  @Nullable URI usageEndpoint;
  Duration usageFlushInterval = Duration.ofSeconds(10);
  int usageBatchSize = 1000;
  int usageBufferBatches = 100;
  Duration usageHelloTimeout = Duration.ofSeconds(5);
  int usageMaxKeys = 10_000;

  /**
   * Checks the settings against each other, then builds the sync loop (not started), with the
   * threads the client owns when none were given.
   *
   * @throws IllegalStateException when a required setting is missing or settings contradict
   */
  SyncLoop assemble() {
    Transport link = requireComplete();
    Duration dead = effectiveDeadAfter();
    requirePayloadCapsAgree();
    // Drawn from on the sync loop and on the telemetry thread: serialize the calls.
    RandomGenerator rng =
        SerializedRandom.of(random != null ? random : RandomGenerator.of("L64X128MixRandom"));
    ReconnectBackoff backoff =
        reconnectBackoff != null
            ? reconnectBackoff
            : ReconnectBackoff.fromIntervalFunction(
                new UniformBackoff(reconnectMin, reconnectMax, rng));
    ExecutorService ownedListeners = null;
    Executor listeners = listenerExecutor;
    if (listeners == null) {
      ExecutorService executor = SyncLoop.worker("configsync-listener");
      ownedListeners = executor;
      listeners = executor;
    }
    Scheduler timer = scheduler;
    SystemScheduler ownedTimer = null;
    if (timer == null) {
      ownedTimer = new SystemScheduler("configsync-timer");
      timer = ownedTimer;
    }
    ListenerDispatcher dispatcher = new ListenerDispatcher(listeners);
    List<Consumer<SyncEvent>> events = List.copyOf(eventListeners);
    SyncMetrics guardedMetrics = new GuardedMetrics(metrics);
    UsageReporter.Settings usage =
        new UsageReporter.Settings(
            usageReporting,
            new ControlPlanes(ingestEndpoints(), rng),
            usageFlushInterval,
            usageBatchSize,
            usageBufferBatches,
            usageHelloTimeout,
            usageMaxKeys,
            link,
            timer,
            clock,
            backoff,
            heartbeatInterval,
            dead,
            handshakeTimeout,
            guardedMetrics,
            event -> {
              for (Consumer<SyncEvent> listener : events) {
                dispatcher.dispatch("onEvent", () -> listener.accept(event));
              }
            });
    SyncSettings settings =
        new SyncSettings(
            new SyncSettings.Node(
                nodeId,
                hostname != null ? hostname : localHostname(),
                nodeVersion,
                Map.copyOf(capabilities),
                Map.copyOf(labels)),
            new SyncSettings.Link(
                new ControlPlanes(controlPlanes, rng),
                link,
                heartbeatInterval,
                dead,
                backoff,
                handshakeTimeout,
                reportErrors,
                deltaSync),
            new SyncSettings.Apply(
                store,
                fallbackConfig,
                maxPayloadBytes,
                maxInflatedBytes,
                validator,
                cacheWriteTimeout,
                cacheJournalRecords,
                cacheJournalFraction),
            new SyncSettings.Licensing(licenseVerifier, licenseWarning),
            new SyncSettings.Backups(backupExport, backupImport, backupExportDelay),
            new SyncSettings.Listeners(
                List.copyOf(snapshotListeners), events, dispatcher, ownedListeners),
            new SyncSettings.Time(clock, timer, ownedTimer),
            guardedMetrics,
            usage);
    SyncLoop loop = new SyncLoop(settings);
    guardedMetrics.bind(loop::status);
    return loop;
  }

  /** The required settings are there; the transport to use. */
  private Transport requireComplete() {
    if (controlPlanes.isEmpty()) {
      throw new IllegalStateException(
          "controlPlane is required: call controlPlane(URI.create(\"wss://host:port\")), or"
              + " controlPlanes(list) for the replicas of a highly available control plane");
    }
    Transport t = transport;
    if (t == null) {
      throw new IllegalStateException(
          "transport is required: add configsync-transport-okhttp and call"
              + " transport(OkHttpTransport.create(TlsConfig.pki(cert, key, ca)))");
    }
    return t;
  }

  /** The silence after which the control plane counts as dead: longer than the heartbeat. */
  private Duration effectiveDeadAfter() {
    Duration dead = deadAfter != null ? deadAfter : heartbeatInterval.multipliedBy(3).dividedBy(2);
    if (dead.compareTo(heartbeatInterval) <= 0) {
      throw new IllegalStateException(
          "deadAfter ("
              + dead
              + ") must be longer than heartbeatInterval ("
              + heartbeatInterval
              + "), or every quiet interval would look like a dead control plane");
    }
    return dead;
  }

  private void requirePayloadCapsAgree() {
    if (maxInflatedBytes < maxPayloadBytes) {
      throw new IllegalStateException(
          "maxInflatedBytes ("
              + maxInflatedBytes
              + ") must not be below maxPayloadBytes ("
              + maxPayloadBytes
              + ")");
    }
  }

  /** The usage endpoint given, or the ingest path on every control plane replica. */
  private List<URI> ingestEndpoints() {
    List<URI> ingest = new ArrayList<>();
    if (usageEndpoint != null) {
      ingest.add(usageEndpoint);
    } else {
      for (URI replica : controlPlanes) {
        ingest.add(OutletUri.withPath(replica, HybridProtocol.INGEST_PATH));
      }
    }
    return ingest;
  }

  private static String localHostname() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "unknown";
    }
  }
}
