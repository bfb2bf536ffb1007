package dev.configsync;

import static dev.configsync.internal.BuilderChecks.requireArgument;
import static dev.configsync.internal.BuilderChecks.requirePositive;

import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.internal.Versions;
import dev.configsync.spi.BackupStore;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.SnapshotStore;
import dev.configsync.spi.SyncMetrics;
import dev.configsync.spi.Transport;
import java.net.URI;
import java.nio.file.Path;
import java.security.PublicKey;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.random.RandomGenerator;

/**
 * A data plane's link to its control plane: keeps the node's configuration current, cached on disk,
 * and in force whatever happens to the control plane or the network.
 *
 * <pre>{@code
 * ConfigSyncClient client = ConfigSyncClient.builder()
 *     .controlPlane(URI.create("wss://cp.example.com:8005"))
 *     .transport(OkHttpTransport.create(TlsConfig.pki(cert, key, ca)))
 *     .snapshotStore(FileSnapshotStore.open(Path.of("/var/lib/configsync")))
 *     .onSnapshot(snapshot -> router.swap(snapshot.config()))
 *     .build();
 * client.start();
 * }</pre>
 *
 * <p><b>Threading.</b> All methods are thread-safe. One serial sync loop owns the client's state;
 * decoding and validation run on one pipeline thread, cache writes on one cache-writer thread.
 * Listeners ({@link Builder#onSnapshot}, {@link Builder#onEvent}) run on the listener executor, one
 * callback at a time and in the order things happened; a listener that throws is logged and cannot
 * disturb syncing. A slow listener delays only later callbacks (and the heartbeat that announces a
 * newly applied configuration), never the connection.
 *
 * <p><b>Ownership.</b> The client owns the transport and the store given to it, and its own
 * threads; {@link #close()} releases them all. It does not own an executor given to {@link
 * Builder#listenerExecutor}.
 */
public final class ConfigSyncClient implements AutoCloseable {
  /** The version of this library, sent as {@code node_version} unless overridden. */
  public static final String VERSION = "0.1.0";

  /**
   * The default largest compressed configuration, in bytes (Kong's {@code cluster_max_payload}).
   */
  public static final long DEFAULT_MAX_PAYLOAD_BYTES = 16L * 1024 * 1024;

  /** The default largest inflated configuration, in bytes. */
  public static final long DEFAULT_MAX_INFLATED_BYTES = 256L * 1024 * 1024;

  private final SyncLoop loop;
  private final AtomicBoolean started = new AtomicBoolean();

  private ConfigSyncClient(SyncLoop loop) {
    this.loop = loop;
  }

  /** A builder with the protocol's defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Seeds the node's configuration from its cache (on the calling thread: when this returns, {@link
   * #current()} holds the cached configuration if there was a valid one), then starts connecting in
   * the background and returns. Connection attempts go on, with the reconnect delay between them,
   * until {@link #close()}.
   *
   * @throws IllegalStateException when called twice or after close
   * @throws ConfigSyncException when the node identity can neither be read nor created
   */
  public void start() {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("start() may be called once per client");
    }
    loop.start();
  }

  /** The configuration the node runs now, or empty when it runs none. Never blocks. */
  public Optional<ConfigSnapshot> current() {
    return loop.current();
  }

  /**
   * A consistent picture of the client now: connection, configuration, cache, license and usage
   * telemetry (see {@code docs/observability.md}). Never blocks.
   */
  public SyncStatus status() {
    return loop.status();
  }

  /**
   * Where the embedding gateway counts the requests it serves, for usage telemetry: {@code
   * client.usage().record(service, route, consumer, status)}. Allocation-free and non-blocking on
   * names seen before; safe from any thread, also before {@link #start()} (counts made before start
   * are sent once the node is started). See {@link UsageRecorder} and {@code docs/telemetry.md}.
   */
  public UsageRecorder usage() {
    return loop.usage();
  }

  /**
   * Waits until the node runs a configuration (from any source) and the {@link Builder#onSnapshot}
   * listeners have run for it, at most {@code timeout}: when this returns a configuration, state
   * that those listeners set from it (a routing table, say) is in place. The listeners run on the
   * listener executor, so this also waits for the callbacks queued before them; a listener that
   * blocks makes this wait until the timeout.
   *
   * <p>Called from a listener (on the listener executor's thread, where the listeners cannot run
   * while it waits), it waits only until the configuration is applied, not for the listeners.
   *
   * @return the running configuration (which may be newer than the first), or empty when none was
   *     applied and delivered in time
   * @throws InterruptedException when interrupted while waiting
   */
  public Optional<ConfigSnapshot> awaitFirstSnapshot(Duration timeout) throws InterruptedException {
    return loop.awaitFirstSnapshot(timeout);
  }

  /**
   * Whether the node should serve traffic: true unless the client is closed or the running
   * configuration's license has expired (see {@link Builder#licenseKey}). Never blocks.
   */
  public boolean isServing() {
    return loop.status().serving();
  }

  /**
   * Loads a configuration by hand, for an operator while the control plane is unreachable: a {@code
   * config.json.gz} copied from another node (verified by its hash), a JSON file (a configuration,
   * or a {@code reconfigure} message), or YAML (with {@code configsync-cache} on the class path).
   * It is checked like any configuration (license, validator), cached, and then runs with source
   * {@link SnapshotSource#MANUAL}; the control plane's configuration replaces it on the next
   * connection ({@link SyncEvent.ManualConfigReplaced}).
   *
   * <p>Refused while connected, because the control plane would replace it at once; use {@link
   * #loadManual(Path, boolean)} to force it. Blocks until the configuration runs (at most about the
   * cache-write timeout). Must not be called from a listener on a direct executor.
   *
   * <p>A file refused for what it holds is also reported to the event listeners, as a {@link
   * SyncEvent.SnapshotRejected} with source {@link SnapshotSource#MANUAL} (reason {@code BAD_FILE}
   * for a file that cannot be read or parsed), and counted in {@link SyncStatus#rejected()}.
   *
   * @return the configuration now running
   * @throws ConfigFileException when the file cannot be read or is invalid (file, line, column)
   * @throws ConfigRejectedException when the configuration fails its checks
   * @throws IllegalStateException when connected, not started, or closed
   * @throws InterruptedException when interrupted while waiting
   */
  public ConfigSnapshot loadManual(Path file) throws InterruptedException {
    return loop.loadManual(Objects.requireNonNull(file, "file"), false);
  }

  /**
   * As {@link #loadManual(Path)}; with {@code force}, also while connected (the control plane's
   * next push replaces it).
   */
  public ConfigSnapshot loadManual(Path file, boolean force) throws InterruptedException {
    return loop.loadManual(Objects.requireNonNull(file, "file"), force);
  }

  /**
   * Stops syncing: closes the connection, lets a cache write under way finish (the cache is never
   * left half-written), stops the client's threads, and delivers a last {@link SyncEvent.Stopped}
   * event. Idempotent. Safe to call from a listener.
   */
  @Override
  public void close() {
    loop.close();
  }

  /**
   * Builds a {@link ConfigSyncClient}. Every setting is checked when set or at {@link #build()},
   * with a message naming it.
   */
  public static final class Builder {
    private final ClientAssembler assembler = new ClientAssembler();

    private Builder() {}

    /**
     * The control plane to dial, as {@code wss://host:port}; the path defaults to {@code
     * /v1/outlet}. Required.
     */
    public Builder controlPlane(URI uri) {
      assembler.controlPlanes =
          List.of(OutletUri.normalize(Objects.requireNonNull(uri, "controlPlane")));
      return this;
    }

    /**
     * Several addresses of one control plane (the replicas of a highly available control plane),
     * each as in {@link #controlPlane(URI)}; replaces any address set before. Every connection
     * attempt dials one of them picked uniformly at random (with {@link #random}), never the one of
     * the attempt just before when there are several: a fleet spreads over the replicas, and a node
     * whose replica dies moves to another on its next attempt. Required (or {@link
     * #controlPlane(URI)}).
     */
    public Builder controlPlanes(List<URI> uris) {
      Objects.requireNonNull(uris, "controlPlanes");
      requireArgument(!uris.isEmpty(), "controlPlanes must list at least one address");
      List<URI> normalized = new ArrayList<>();
      for (URI uri : uris) {
        URI n = OutletUri.normalize(Objects.requireNonNull(uri, "controlPlanes element"));
        requireArgument(
            !normalized.contains(n), "controlPlanes lists " + n + " twice; list each replica once");
        normalized.add(n);
      }
      assembler.controlPlanes = List.copyOf(normalized);
      return this;
    }

    /** How to reach the control plane, for example {@code OkHttpTransport}. Required. */
    public Builder transport(Transport transport) {
      assembler.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /**
     * Where the running configuration and the node identity are kept across restarts, for example
     * {@code FileSnapshotStore.open(dir)}. Without one the node forgets its configuration when it
     * stops and gets a new identity on every start.
     */
    public Builder snapshotStore(SnapshotStore store) {
      assembler.store = Objects.requireNonNull(store, "snapshotStore");
      return this;
    }

    /** Overrides the node identity that the snapshot store would keep. */
    public Builder nodeId(UUID nodeId) {
      assembler.nodeId = Objects.requireNonNull(nodeId, "nodeId");
      return this;
    }

    /** The host name reported to the control plane. Default: this machine's. */
    public Builder nodeHostname(String hostname) {
      requireArgument(!hostname.isBlank(), "nodeHostname must not be blank");
      assembler.hostname = hostname;
      return this;
    }

    /**
     * The version reported to the control plane, which uses it for compatibility checks (same
     * major, minor not above its own). {@code MAJOR.MINOR}, then optionally one of {@code . - +}
     * followed by letters, digits and {@code . - + _ ~} only, at most 64 characters: the control
     * plane refuses anything else (spaces, control characters), so it is refused here first.
     * Default: {@link #VERSION}.
     */
    public Builder nodeVersion(String version) {
      requireArgument(
          Versions.isValid(version),
          "nodeVersion must look like MAJOR.MINOR[.PATCH] (letters, digits and . - + _ ~ after"
              + " it, at most 64 characters), got: "
              + version);
      assembler.nodeVersion = version;
      return this;
    }

    /**
     * A capability the node supports, with its version; sent in {@code basic_info} (Kong calls them
     * plugins) so that the control plane withholds configurations the node cannot run.
     */
    public Builder capability(String name, String version) {
      requireArgument(!name.isBlank(), "capability name must not be blank");
      assembler.capabilities.put(name, Objects.requireNonNull(version, "capability version"));
      return this;
    }

    /** A free-form label sent to the control plane in {@code basic_info}. */
    public Builder label(String key, String value) {
      requireArgument(!key.isBlank(), "label key must not be blank");
      assembler.labels.put(key, Objects.requireNonNull(value, "label value"));
      return this;
    }

    /** How often to ping the control plane. Default 30 s. */
    public Builder heartbeatInterval(Duration interval) {
      requirePositive(interval, "heartbeatInterval");
      assembler.heartbeatInterval = interval;
      return this;
    }

    /**
     * How long the control plane may stay silent (no pong, no message) before the connection is
     * declared dead and re-dialled. Default 1.5 x the heartbeat interval.
     */
    public Builder deadAfter(Duration silence) {
      requirePositive(silence, "deadAfter");
      assembler.deadAfter = silence;
      return this;
    }

    /**
     * The reconnect delay: uniformly random in [{@code min}, {@code max}], drawn anew on every
     * attempt, so that a fleet spreads its reconnects. Default 5 to 10 s.
     */
    public Builder reconnectDelay(Duration min, Duration max) {
      requireArgument(
          !min.isNegative() && max.compareTo(min) >= 0 && !max.isZero(),
          "reconnectDelay needs 0 <= min <= max and max > 0, got min=" + min + " max=" + max);
      assembler.reconnectMin = min;
      assembler.reconnectMax = max;
      assembler.reconnectBackoff = null;
      return this;
    }

    /**
     * Replaces the reconnect delay with any {@link ReconnectBackoff} (the delay for the given
     * attempt number, counted from 1 since the last connection that delivered data); a Resilience4j
     * {@code IntervalFunction} fits through {@link ReconnectBackoff#fromIntervalFunction}. Retries
     * never stop, whatever the function.
     */
    public Builder reconnectBackoff(ReconnectBackoff backoff) {
      assembler.reconnectBackoff = Objects.requireNonNull(backoff, "reconnectBackoff");
      return this;
    }

    /** The longest a connection attempt (TCP, TLS, upgrade) may take. Default 10 s. */
    public Builder handshakeTimeout(Duration timeout) {
      requirePositive(timeout, "handshakeTimeout");
      assembler.handshakeTimeout = timeout;
      return this;
    }

    /**
     * The longest a new configuration waits for its cache write before it is applied anyway (with a
     * {@link SyncEvent.CacheWriteFailed} event), so that a hung disk cannot stop the node taking
     * configuration. Default 10 s.
     */
    public Builder cacheWriteTimeout(Duration timeout) {
      requirePositive(timeout, "cacheWriteTimeout");
      assembler.cacheWriteTimeout = timeout;
      return this;
    }

    /**
     * When the cache's journal is compacted. A configuration that comes as a change ({@code
     * reconfigure_delta}) is made durable by appending the change to a journal beside the cached
     * configuration ({@link SnapshotStore#append}; {@code config.journal} for a {@code
     * FileSnapshotStore}) instead of writing the whole configuration; the journal is replayed at
     * start-up. Once it holds {@code maxRecords} changes, or changes larger than {@code
     * maxFractionOfCache} times the cached configuration (and at least 64 KiB), the whole
     * configuration is written again in the background and the journal emptied. {@code maxRecords}
     * 0 turns the journal off: every change is written whole. A store without a journal writes
     * whole anyway. Default 64 records, 0.25.
     *
     * @throws IllegalArgumentException when {@code maxRecords} is negative or {@code
     *     maxFractionOfCache} is not more than 0 and at most 16
     */
    public Builder cacheJournal(int maxRecords, double maxFractionOfCache) {
      requireArgument(
          maxRecords >= 0, "cacheJournal maxRecords must be 0 or more, got: " + maxRecords);
      requireArgument(
          maxFractionOfCache > 0 && maxFractionOfCache <= 16,
          "cacheJournal maxFractionOfCache must be more than 0 and at most 16, got: "
              + maxFractionOfCache);
      assembler.cacheJournalRecords = maxRecords;
      assembler.cacheJournalFraction = maxFractionOfCache;
      return this;
    }

    /** The largest compressed configuration accepted, in bytes. Default 16 MiB. */
    public Builder maxPayloadBytes(long bytes) {
      requireArgument(bytes >= 1024, "maxPayloadBytes must be at least 1024, got: " + bytes);
      assembler.maxPayloadBytes = bytes;
      return this;
    }

    /** The largest inflated configuration accepted, in bytes. Default 256 MiB. */
    public Builder maxInflatedBytes(long bytes) {
      requireArgument(bytes >= 1024, "maxInflatedBytes must be at least 1024, got: " + bytes);
      assembler.maxInflatedBytes = bytes;
      return this;
    }

    /**
     * A declarative configuration file (JSON, YAML with {@code configsync-cache}, or a {@code
     * config.json.gz} payload) to run when start-up finds no valid cache, like Kong's {@code
     * declarative_config}. It is not written to the cache; the control plane's configuration
     * replaces it as soon as it arrives.
     */
    public Builder fallbackConfig(Path file) {
      assembler.fallbackConfig = Objects.requireNonNull(file, "fallbackConfig");
      return this;
    }

    /**
     * Enables licensing: every configuration must carry a license ({@code licenses} in the
     * configuration) signed with the Ed25519 private key matching {@code publicKey}, or it is
     * refused. When the running license expires the node stops serving ({@link #isServing()} turns
     * false) until a renewed one arrives. Licenses are issued with {@code LicenseSigner}
     * (configsync-license-issuer).
     *
     * @throws IllegalArgumentException when the key is not an Ed25519 key
     */
    public Builder licenseKey(PublicKey publicKey) {
      assembler.licenseVerifier =
          new LicenseVerifier(Objects.requireNonNull(publicKey, "licenseKey"));
      return this;
    }

    /** As {@link #licenseKey(PublicKey)}, from a {@code BEGIN PUBLIC KEY} PEM text. */
    public Builder licenseKeyPem(String publicKeyPem) {
      assembler.licenseVerifier = LicenseVerifier.fromPem(publicKeyPem);
      return this;
    }

    /**
     * Copies the running configuration (only one received from the control plane, verified) to
     * {@code store}, at most once per {@link #backupExportDelay}, so that new nodes can start
     * during an outage. See {@link BackupStore}.
     */
    public Builder backupExport(BackupStore store) {
      assembler.backupExport = Objects.requireNonNull(store, "backupExport");
      return this;
    }

    /**
     * Seeds the node from {@code store} when it starts with no valid configuration (no cache, no
     * usable fallback) and its first connection attempt fails. The copy is verified by its hash;
     * the control plane's configuration replaces it as soon as it arrives.
     */
    public Builder backupImport(BackupStore store) {
      assembler.backupImport = Objects.requireNonNull(store, "backupImport");
      return this;
    }

    /** The least time between two backup exports (latest wins). Default 60 s. */
    public Builder backupExportDelay(Duration delay) {
      requirePositive(delay, "backupExportDelay");
      assembler.backupExportDelay = delay;
      return this;
    }

    /** How long before expiry {@link SyncEvent.LicenseExpiring} is emitted. Default 30 days. */
    public Builder licenseWarning(Duration beforeExpiry) {
      Objects.requireNonNull(beforeExpiry, "licenseWarning");
      requireArgument(!beforeExpiry.isNegative(), "licenseWarning must not be negative");
      assembler.licenseWarning = beforeExpiry;
      return this;
    }

    /** Checks each configuration before it is cached and applied; a refusal keeps the last one. */
    public Builder validator(ConfigValidator validator) {
      assembler.validator = Objects.requireNonNull(validator, "validator");
      return this;
    }

    /**
     * Whether to report refused configurations to the control plane ({@code {"type":"error"}},
     * understood by Kong 3.2+ control planes; older ones close the connection on it). Default off.
     */
    public Builder reportErrors(boolean enabled) {
      assembler.reportErrors = enabled;
      return this;
    }

    /**
     * Whether to announce configsync's incremental sync to the control plane ({@code
     * "configsync":{"delta":1}} in {@code basic_info}; see {@code docs/protocol.md}). A configsync
     * control plane then sends a change ({@code reconfigure_delta}) instead of the whole
     * configuration when that is smaller; Kong's control planes ignore the announcement and send
     * whole configurations. A change that does not apply is refused and the whole configuration
     * asked for. Default on.
     */
    public Builder deltaSync(boolean enabled) {
      assembler.deltaSync = enabled;
      return this;
    }

    /** Called with each configuration the node starts running, from any source. */
    public Builder onSnapshot(Consumer<ConfigSnapshot> listener) {
      assembler.snapshotListeners.add(Objects.requireNonNull(listener, "onSnapshot listener"));
      return this;
    }

    /** Called with every {@link SyncEvent}. */
    public Builder onEvent(Consumer<SyncEvent> listener) {
      assembler.eventListeners.add(Objects.requireNonNull(listener, "onEvent listener"));
      return this;
    }

    /**
     * Where listeners run. Callbacks still run one at a time and in order, whatever the executor.
     * Default: one daemon thread owned by the client.
     */
    public Builder listenerExecutor(Executor executor) {
      assembler.listenerExecutor = Objects.requireNonNull(executor, "listenerExecutor");
      return this;
    }

    /**
     * Receives the client's measurements (applies, rejects by reason, reconnects, payload sizes,
     * apply and cache-write timings) and reads its status for gauges; for example {@code
     * MicrometerSyncMetrics.of(registry)} from {@code configsync-metrics-micrometer}. Default none.
     */
    public Builder metrics(SyncMetrics metrics) {
      assembler.metrics = Objects.requireNonNull(metrics, "metrics");
      return this;
    }

    /**
     * Whether requests counted with {@link ConfigSyncClient#usage()} are sent to the control plane.
     * Off: every {@code record} call is refused and no telemetry connection is ever opened. Default
     * on (a node that records nothing opens no telemetry connection either).
     */
    public Builder usageReporting(boolean enabled) {
      assembler.usageReporting = enabled;
      return this;
    }

    /**
     * Where usage batches go, as {@code wss://host:port[/path]}: the path defaults to {@code
     * /v1/ingest}. Default: the control plane's host and port (configsync serves both on one port;
     * Kong's self-hosted control plane listens for telemetry on 8006).
     */
    public Builder usageEndpoint(URI endpoint) {
      Objects.requireNonNull(endpoint, "usageEndpoint");
      assembler.usageEndpoint =
          OutletUri.normalize(endpoint, HybridProtocol.INGEST_PATH, "usageEndpoint");
      return this;
    }

    /** How often counted usage is put into a batch and sent. Default 10 s. */
    public Builder usageFlushInterval(Duration interval) {
      requirePositive(interval, "usageFlushInterval");
      assembler.usageFlushInterval = interval;
      return this;
    }

    /**
     * The most (service, route, consumer) rows in one batch; a flush happens early when this many
     * keys are counted. Default 1000.
     */
    public Builder usageBatchSize(int rows) {
      requireArgument(
          rows >= 1 && rows <= 100_000, "usageBatchSize must be 1 to 100000, got: " + rows);
      assembler.usageBatchSize = rows;
      return this;
    }

    /**
     * How many batches are kept until the control plane acknowledges them; when the buffer is full
     * the oldest is dropped and counted as lost ({@link SyncEvent.UsageLost}). Default 100.
     */
    public Builder usageBufferBatches(int batches) {
      requireArgument(
          batches >= 1 && batches <= 1_000_000,
          "usageBufferBatches must be 1 to 1000000, got: " + batches);
      assembler.usageBufferBatches = batches;
      return this;
    }

    /**
     * How long a new telemetry connection waits for the control plane's {@code ingest_hello};
     * without one, the control plane is taken for one that does not acknowledge (Kong's) and
     * batches are sent fire-and-forget. Default 5 s.
     */
    public Builder usageHelloTimeout(Duration timeout) {
      requirePositive(timeout, "usageHelloTimeout");
      assembler.usageHelloTimeout = timeout;
      return this;
    }

    /**
     * The most (service, route, consumer) keys counted in memory at once; a request for a new key
     * over it is refused and counted in {@link UsageStatus#refusedRecords()}. Keys idle for two
     * flushes are dropped. Default 10,000.
     */
    public Builder usageMaxKeys(int keys) {
      requireArgument(
          keys >= 1 && keys <= 10_000_000, "usageMaxKeys must be 1 to 10000000, got: " + keys);
      assembler.usageMaxKeys = keys;
      return this;
    }

    /** The wall clock for event times and timestamps. Default UTC system clock. */
    public Builder clock(Clock clock) {
      assembler.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * The source of timers and monotonic time, for tests that drive time by hand. Default: a daemon
     * timer thread owned by the client.
     */
    public Builder scheduler(Scheduler scheduler) {
      assembler.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * The random source of the reconnect jitter and of the choice among {@link #controlPlanes}, for
     * tests. Default: a new {@code L64X128MixRandom}. The client calls it from more than one
     * thread, one call at a time (it serializes the calls itself), so it need not be thread-safe.
     */
    public Builder random(RandomGenerator random) {
      assembler.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /**
     * Builds the client (not started).
     *
     * @throws IllegalStateException when a required setting is missing or settings contradict
     */
    public ConfigSyncClient build() {
      return new ConfigSyncClient(assembler.assemble());
    }
  }
}
