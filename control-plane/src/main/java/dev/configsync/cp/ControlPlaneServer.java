package dev.configsync.cp;

import static dev.configsync.cp.ServerSettings.requirePort;
import static dev.configsync.cp.SettingChecks.atLeast;
import static dev.configsync.cp.SettingChecks.atLeastBytes;
import static dev.configsync.cp.SettingChecks.between;
import static dev.configsync.cp.SettingChecks.capabilityVersion;
import static dev.configsync.cp.SettingChecks.notNegative;
import static dev.configsync.cp.SettingChecks.positive;
import static dev.configsync.cp.SettingChecks.positiveAtMost;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSyncException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A control plane: accepts data planes on one mutual-TLS port ({@code /v1/outlet}, Kong's
 * hybrid-mode protocol v1), pushes every published configuration to every compatible node at once,
 * keeps a registry of the nodes, and optionally serves an admin HTTP API on a second port.
 *
 * <pre>{@code
 * try (ControlPlaneServer cp = ControlPlaneServer.builder()
 *         .tls(ServerTls.pki(Path.of("cp.crt"), Path.of("cp.key"), Path.of("ca.crt")))
 *         .listen(new InetSocketAddress(8005))
 *         .admin(new InetSocketAddress("127.0.0.1", 8001))
 *         .configStore(FileConfigStore.open(Path.of("/var/lib/configsync-cp"), 64 << 20))
 *         .start()) {
 *   cp.publish(configTable);            // hashed and compressed once, sent to every node
 *   cp.dataPlanes();                    // who is connected, on which hash, compatible or not
 * }
 * }</pre>
 *
 * <p>Publishing: the configuration is hashed and gzip-encoded once, stored durably in the {@link
 * ConfigStore}, then the same bytes are queued to every compatible node. A node that connects gets
 * the latest configuration only, unless its first ping says it already runs it. A node that reads
 * slowly has at most one frame being written and one waiting; a newer publish replaces the waiting
 * one, so the control plane's memory does not grow with a slow node.
 *
 * <p>Compatibility: a node whose major version differs, or whose minor version is newer than this
 * control plane's {@link Builder#version}, or that lacks a plugin the configuration uses (or has it
 * with another major version than {@link Builder#capability} says), gets nothing; {@link
 * #dataPlanes()} says why.
 *
 * <p>Threading: all methods are thread-safe. Publishes are serialized. Data plane connections are
 * served on Netty event loops (threads named {@code configsync-cp-io-*}), admin connections on
 * their own ({@code configsync-cp-admin-io}); the admin API's publishes run on one thread ({@code
 * configsync-cp-admin}), the answers to its reads on another ({@code configsync-cp-admin-read}).
 * {@link #close()} stops every thread the server started.
 *
 * <p>Inside, this class is a facade: {@code ServerLifecycle} wires the collaborators below and
 * starts and stops them in order; {@code ConfigPublisher} owns the publish path and the store,
 * {@code NettyListeners} the ports and threads, {@code AdminConnections} and {@code AdminEndpoints}
 * the admin API, {@code Outlet} and {@code UsageIngest} the data plane connections, {@code
 * FleetView} the merged view of the fleet (see docs/architecture.md).
 */
public final class ControlPlaneServer implements AutoCloseable {
  /** The default data plane port (Konnect's); self-hosted Kong uses 8005. */
  public static final int DEFAULT_PORT = 443;

  /** The default heartbeat interval of data planes: 30 s. */
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(30);

  /** The default largest frame read from a data plane (basic_info, error reports): 1 MiB. */
  public static final int DEFAULT_MAX_INBOUND_FRAME_BYTES = 1 << 20;

  /** How long a disconnected node stays listed by default: 14 days (as Kong's purge delay). */
  public static final Duration DEFAULT_FORGET_AFTER = Duration.ofDays(14);

  /** The most entries {@link #history} returns (and keeps, for stores without a history). */
  public static final int MAX_HISTORY = 100;

  /** The default largest number of data planes the registry holds: 5,000. */
  public static final int DEFAULT_MAX_DATA_PLANES = 5_000;

  /** The default memory budget of the registry, as it estimates its entries: 64 MiB. */
  public static final long DEFAULT_MAX_REGISTRY_BYTES = 64L << 20;

  /** The default largest number of labels a data plane may declare: 64. */
  public static final int DEFAULT_MAX_NODE_LABELS = 64;

  /** The default largest number of plugins a data plane may declare: 256. */
  public static final int DEFAULT_MAX_NODE_PLUGINS = 256;

  /** The default number of published configurations kept to send changes from: 32. */
  public static final int DEFAULT_DELTA_HISTORY = 32;

  /** The default estimated memory those configurations may take: 256 MiB. */
  public static final long DEFAULT_DELTA_HISTORY_BYTES = 256L << 20;

  /**
   * The default largest change frame sent, as a fraction of the whole configuration's frame: 0.5.
   */
  public static final double DEFAULT_MAX_DELTA_FRACTION = 0.5;

  /** The default longest time an admin client may take to send a request's head: 10 s. */
  public static final Duration DEFAULT_ADMIN_REQUEST_HEAD_TIMEOUT = Duration.ofSeconds(10);

  /** The default longest time an admin client may take to send a request's body: 60 s. */
  public static final Duration DEFAULT_ADMIN_REQUEST_BODY_TIMEOUT = Duration.ofSeconds(60);

  /** The default largest number of admin connections open at once: 64. */
  public static final int DEFAULT_MAX_ADMIN_CONNECTIONS = 64;

  private final ServerLifecycle running;

  private ControlPlaneServer(ServerLifecycle running) {
    this.running = running;
  }

  /** A builder; {@link Builder#tls} is required, everything else has a default. */
  public static Builder builder() {
    return new Builder();
  }

  // ---- publishing ------------------------------------------------------------------------------

  /**
   * Publishes a configuration given as JSON text.
   *
   * @throws InvalidConfigurationException when it is not a valid JSON object, is refused by the
   *     validator, or is larger than data planes accept; nothing is published
   * @throws PublishOutcomeUnknownException when a shared store may or may not have applied it (see
   *     {@link #history}); it was not sent to this control plane's nodes
   * @throws ConfigSyncException when the store could not save it; nothing is published
   */
  public PublishResult publish(String configJson) {
    Objects.requireNonNull(configJson, "configJson");
    byte[] json = configJson.getBytes(StandardCharsets.UTF_8);
    // A leading U+FEFF becomes a byte order mark, which the parser skips but a frame cannot hold.
    return running.publisher.publish(
        running.publisher.parseCounted(json), null, ConfigJson.isPlainUtf8(json) ? json : null);
  }

  /**
   * Publishes {@code config} (a copy is taken: later changes to the argument have no effect).
   * Blocks until the configuration is stored durably and queued to every connected compatible node;
   * does not wait for nodes to apply it (watch {@link #dataPlanes()} for that).
   *
   * @return the hash, and whether anything changed (publishing the current configuration again is a
   *     no-op)
   * @throws InvalidConfigurationException when it is not a JSON object, is refused by the
   *     validator, or is larger than data planes accept; nothing is published
   * @throws PublishOutcomeUnknownException when a shared store may or may not have applied it (see
   *     {@link #history}); it was not sent to this control plane's nodes
   * @throws ConfigSyncException when the store could not save it; nothing is published
   * @throws IllegalStateException when the server is closed
   */
  public PublishResult publish(JsonNode config) {
    Objects.requireNonNull(config, "config");
    byte[] json = ConfigJson.write(config);
    return running.publisher.publish(running.publisher.parseCounted(json), null, json);
  }

  /**
   * Publishes {@code config} only if the configuration in force is still {@code expectedHash}: the
   * compare-and-set an admin needs so that two people editing the same configuration cannot
   * silently overwrite each other (the admin API's {@code If-Match}). With a shared store (several
   * replicas) the check covers every replica's publishes.
   *
   * @param expectedHash the hash of the configuration this one replaces ({@code ConfigHash.NONE},
   *     32 zeros, for "nothing published yet")
   * @throws PublishConflictException when the configuration in force is another one; nothing is
   *     published
   * @see #publish(JsonNode)
   */
  public PublishResult publish(JsonNode config, String expectedHash) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(expectedHash, "expectedHash");
    byte[] json = ConfigJson.write(config);
    return running.publisher.publish(running.publisher.parseCounted(json), expectedHash, json);
  }

  /**
   * The configurations that were in force, newest first, at most {@code limit} (1 to {@value
   * #MAX_HISTORY}): from a shared store that keeps a history (so every replica answers the same),
   * otherwise those this control plane took since it started (the one loaded at start first of
   * all). Use it to learn the outcome of a publish answered {@link PublishOutcomeUnknownException}.
   * May block for up to the store's request timeout. Thread-safe.
   *
   * @throws IllegalArgumentException when {@code limit} is out of range
   * @throws ConfigSyncException when the store cannot be read now
   */
  public List<ConfigVersion> history(int limit) {
    if (limit < 1 || limit > MAX_HISTORY) {
      throw new IllegalArgumentException(
          "limit must be between 1 and " + MAX_HISTORY + ", got " + limit);
    }
    return running.publisher.history(limit);
  }

  /**
   * Why this control plane is degraded (its store cannot be written: publishes are refused while
   * the configuration in force keeps being served), or empty when it is healthy.
   */
  public Optional<String> degradedReason() {
    return running.publisher.degradedReason();
  }

  /** The configuration in force, or empty before the first publish. */
  public Optional<PublishedConfig> currentConfig() {
    return running.publisher.current();
  }

  /**
   * The usage the data planes reported on {@code /v1/ingest} to this server since it started: per
   * node, service, route and consumer, and billing figures per node and UTC day. Each batch is
   * counted once, however often a node sends it. Kept in memory only: forward batches elsewhere
   * with {@link Builder#onUsage} to keep them across restarts. Never blocks for long (a consistent
   * copy). With replicas, this replica's share only (what its metrics count); see {@link
   * #fleetUsage()}.
   */
  public UsageReport usage() {
    return running.fleet.usage();
  }

  /**
   * The whole fleet's usage, as {@code GET /usage} reports it: with a {@link
   * Builder#fleetDirectory} that shares usage (etcd's does), the sum over every replica of this
   * replica's figures as they are now and the others' as they last shared them (within the
   * directory's flush interval); otherwise the same as {@link #usage()}.
   */
  public UsageReport fleetUsage() {
    return running.fleet.fleetUsage();
  }

  /**
   * Every data plane seen and not yet forgotten, sorted by hostname then id. With a {@link
   * Builder#fleetDirectory}, also those other replicas serve: a node known to several replicas is
   * listed once, as the replica it is connected to (or, if none, the one that saw it last) reports
   * it.
   */
  public List<DataPlaneInfo> dataPlanes() {
    return running.fleet.dataPlanes();
  }

  /** The address data planes connect to (with the actual port when 0 was asked for). */
  public InetSocketAddress address() {
    return running.listeners.address();
  }

  /** The admin API's address, or empty when the admin API is off. */
  public Optional<InetSocketAddress> adminAddress() {
    return running.listeners.adminAddress();
  }

  /** The version this control plane checks nodes against. */
  public String version() {
    return running.settings.version;
  }

  /** The TLS material in use for new connections. */
  public ServerTls tls() {
    return running.tls.current();
  }

  /**
   * Reads the certificate, key and CA files again and uses them for every new connection;
   * connections already open keep theirs. Called on a timer when the files change (see {@link
   * Builder#tlsReloadInterval}); call it directly after rotating files if you prefer.
   *
   * @throws IllegalArgumentException when the files now hold unsuitable material (for example a
   *     certificate replaced but not yet its key); the previous material stays in use
   */
  public void reloadTls() {
    running.tls.reload();
  }

  /** Where the configuration is stored. */
  public String storeDescription() {
    return running.publisher.storeDescription();
  }

  /** When this server started. */
  public Instant startedAt() {
    return running.startedAt;
  }

  Outlet outlet() {
    return running.outlet;
  }

  /**
   * Stops accepting connections, closes every data plane connection (nodes keep serving their
   * configuration and reconnect with their usual delay), stops every thread and closes the store.
   * Idempotent.
   */
  @Override
  public void close() {
    running.close();
  }

  /**
   * Settings of a {@link ControlPlaneServer}. Every setter checks its argument at once and throws
   * {@link IllegalArgumentException} naming the setting.
   */
  public static final class Builder {
    private final ServerSettings s = new ServerSettings();

    private Builder() {}

    /** The control plane's TLS material (required). */
    public Builder tls(ServerTls tls) {
      s.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * Where data planes connect; default all interfaces, port {@value #DEFAULT_PORT}. Port 0 picks
     * a free port ({@link #address()} tells which).
     */
    public Builder listen(InetSocketAddress address) {
      s.listen = Objects.requireNonNull(address, "listen");
      return this;
    }

    /** Same as {@link #listen(InetSocketAddress)} with a host name or address and a port. */
    public Builder listen(String host, int port) {
      requirePort("listen", port);
      return listen(new InetSocketAddress(host, port));
    }

    /**
     * Turns on the admin HTTP API at {@code address} (off by default). Bind it to loopback ({@code
     * 127.0.0.1}) unless the port is protected otherwise: with no {@link #adminToken} anyone who
     * reaches it can publish.
     */
    public Builder admin(InetSocketAddress address) {
      s.admin = Objects.requireNonNull(address, "admin");
      return this;
    }

    /** Requires {@code Authorization: Bearer <token>} on every admin request. */
    public Builder adminToken(String token) {
      s.adminToken = SettingChecks.adminToken(token);
      return this;
    }

    /** Where published configurations are kept; default {@link InMemoryConfigStore}. */
    public Builder configStore(ConfigStore store) {
      s.store = Objects.requireNonNull(store, "configStore");
      return this;
    }

    /**
     * Shares this control plane's data planes with the other replicas of a highly available control
     * plane, so that {@link #dataPlanes()} lists the whole fleet (default: none, this control
     * plane's nodes only). The server closes it when it closes.
     */
    public Builder fleetDirectory(FleetDirectory directory) {
      s.fleet = Objects.requireNonNull(directory, "fleetDirectory");
      return this;
    }

    /**
     * The data planes' heartbeat interval (default 30 s); a node silent for 1.5 times this is
     * dropped, unless {@link #deadAfter} says otherwise.
     */
    public Builder heartbeatInterval(Duration interval) {
      s.heartbeat = positive("heartbeatInterval", interval);
      return this;
    }

    /** How long a node may send no ping before it is dropped; default 1.5 x heartbeat. */
    public Builder deadAfter(Duration silence) {
      s.deadAfter = positive("deadAfter", silence);
      return this;
    }

    /** The longest a TLS handshake plus the WebSocket upgrade may take; default 10 s. */
    public Builder handshakeTimeout(Duration timeout) {
      s.handshakeTimeout = positive("handshakeTimeout", timeout);
      return this;
    }

    /**
     * The largest compressed configuration published (default 16 MiB, the data planes' default); a
     * larger one is refused. Keep it no larger than what the data planes accept.
     */
    public Builder maxPayloadBytes(long bytes) {
      s.maxPayloadBytes = SettingChecks.maxPayloadBytes(bytes);
      return this;
    }

    /** The largest frame read from a data plane (basic_info, error reports); default 1 MiB. */
    public Builder maxInboundFrameBytes(int bytes) {
      s.maxInboundFrameBytes = atLeastBytes("maxInboundFrameBytes", bytes, 1024);
      return this;
    }

    /** The largest request body the admin API reads; default 256 MiB. */
    public Builder maxAdminBodyBytes(int bytes) {
      s.maxAdminBodyBytes = atLeastBytes("maxAdminBodyBytes", bytes, 1024);
      return this;
    }

    /** How long a disconnected node stays listed; default 14 days. */
    public Builder forgetAfter(Duration after) {
      s.forgetAfter = positive("forgetAfter", after);
      return this;
    }

    /**
     * The most data planes the registry holds, connected or not (default 5,000). When a new node
     * would pass it, the disconnected node seen longest ago is evicted; when every entry is
     * connected, the new node is refused (close code 1008, logged).
     */
    public Builder maxDataPlanes(int count) {
      s.maxDataPlanes = atLeast("maxDataPlanes", count, 1);
      return this;
    }

    /**
     * The registry's memory budget (default 64 MiB), against an estimate of each entry's heap (its
     * text plus per-string overhead, about 10 KB for a typical node, at most about 107 KB at the
     * default limits; see docs/control-plane.md). Enforced as {@link #maxDataPlanes}: disconnected
     * nodes are evicted first, longest unseen first.
     */
    public Builder maxRegistryBytes(long bytes) {
      s.maxRegistryBytes = SettingChecks.maxRegistryBytes(bytes);
      return this;
    }

    /**
     * The most node_ids one client certificate may hold in the registry (default 0: no cap, since
     * in shared mode, and often in pki mode, every node presents the same certificate). With a cap,
     * a certificate's new node_id evicts that certificate's longest unseen disconnected entry, and
     * is refused (close code 1008) when all of them are connected. Set it to 1 when every node has
     * a certificate of its own.
     */
    public Builder maxNodeIdsPerCertificate(int count) {
      s.maxNodeIdsPerCertificate = notNegative("maxNodeIdsPerCertificate", count);
      return this;
    }

    /**
     * The most labels a node may declare in {@code basic_info} (default 64; keys at most 64
     * characters, values at most 256). A node that sends more is refused: close code 1008 with the
     * reason, logged at WARN.
     */
    public Builder maxNodeLabels(int count) {
      s.maxNodeLabels = between("maxNodeLabels", count, 0, 10_000);
      return this;
    }

    /**
     * The most plugins a node may declare in {@code basic_info} (default 256; names at most 128
     * characters, versions at most 64). A node that sends more is refused: close code 1008 with the
     * reason, logged at WARN.
     */
    public Builder maxNodePlugins(int count) {
      s.maxNodePlugins = between("maxNodePlugins", count, 0, 10_000);
      return this;
    }

    /**
     * How many published configurations to keep (default 32) so that a configsync node running one
     * of them is sent only the change to the latest ({@code reconfigure_delta}, see {@code
     * docs/protocol.md}); 0 sends every node the whole configuration, as Kong does. Versions made
     * by entity edits share unchanged entities, so keeping them is cheap.
     */
    public Builder deltaHistory(int count) {
      s.deltaHistory = between("deltaHistory", count, 0, 10_000);
      return this;
    }

    /**
     * The estimated memory the kept configurations may take (default 256 MiB; each is counted at 8
     * x its compressed frame); the oldest are dropped first, the latest is always kept.
     */
    public Builder deltaHistoryBytes(long bytes) {
      s.deltaHistoryBytes = notNegative("deltaHistoryBytes", bytes);
      return this;
    }

    /**
     * The largest change frame sent, as a fraction of the whole configuration's compressed frame
     * (default 0.5): a larger change is sent as the whole configuration instead.
     */
    public Builder maxDeltaFraction(double fraction) {
      s.maxDeltaFraction = SettingChecks.maxDeltaFraction(fraction);
      return this;
    }

    /**
     * The longest an admin client may take to send a request's head (request line and headers),
     * counted from its first byte (default 10 s). A slower client is answered 408 and the
     * connection is closed.
     */
    public Builder adminRequestHeadTimeout(Duration timeout) {
      s.adminRequestHeadTimeout =
          positiveAtMost("adminRequestHeadTimeout", timeout, Duration.ofMinutes(10), "10 minutes");
      return this;
    }

    /**
     * The longest an admin client may take to send a request's body, counted from the end of its
     * head (default 60 s; a 256 MiB body then needs about 36 Mbit/s). A slower client is answered
     * 408, nothing is published, and the connection is closed. Without it a body sent a byte now
     * and then held a connection, and its buffered part, for as long as the client liked.
     */
    public Builder adminRequestBodyTimeout(Duration timeout) {
      s.adminRequestBodyTimeout =
          positiveAtMost("adminRequestBodyTimeout", timeout, Duration.ofHours(1), "1 hour");
      return this;
    }

    /**
     * The most admin connections open at once (default 64); one more is answered 503 {@code
     * too_many_connections} and closed.
     */
    public Builder maxAdminConnections(int count) {
      s.maxAdminConnections = between("maxAdminConnections", count, 1, 100_000);
      return this;
    }

    /**
     * The version nodes are checked against (same major, node minor not newer); default this
     * library's version.
     */
    public Builder version(String version) {
      s.version = SettingChecks.version(version);
      return this;
    }

    /**
     * The version of a plugin (capability) on this control plane: a node that declares it with
     * another major version does not get configurations that use it. A plugin not named here is
     * checked for presence only.
     */
    public Builder capability(String name, String version) {
      s.capabilities.put(name, capabilityVersion(name, version));
      return this;
    }

    /**
     * Checks every configuration before it is published; throw {@link IllegalArgumentException}
     * with a message saying what is wrong to refuse it. Runs on the publishing thread.
     */
    public Builder validator(Consumer<JsonNode> validator) {
      s.validator = Objects.requireNonNull(validator, "validator");
      return this;
    }

    /** The clock for timestamps (last seen, published at, forgetting); default UTC system clock. */
    public Builder clock(Clock clock) {
      s.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * How often the TLS files are checked for a rotation (size or modification time changed);
     * default 30 s; {@link Duration#ZERO} turns the check off. New material applies to new
     * connections only.
     */
    public Builder tlsReloadInterval(Duration interval) {
      s.tlsReloadInterval = SettingChecks.tlsReloadInterval(interval);
      return this;
    }

    /**
     * Called with every usage batch a data plane sends, once per batch (a batch a node sends again
     * after a reconnect is recognised and not passed again), before it is acknowledged: for
     * embedders that forward usage elsewhere (billing, analytics). Runs on one thread ({@code
     * configsync-cp-usage}), one batch at a time. Throw to refuse a batch: it is not counted nor
     * acknowledged, the node's connection is closed, and the node sends it again after
     * reconnecting. Default: nothing.
     */
    public Builder onUsage(Consumer<UsageBatch> callback) {
      s.onUsage = Objects.requireNonNull(callback, "onUsage");
      return this;
    }

    /**
     * Event loop threads for data plane connections; default 0, Netty's choice (2 x cores). The
     * admin API has one event loop of its own.
     */
    public Builder ioThreads(int threads) {
      s.ioThreads = notNegative("ioThreads", threads);
      return this;
    }

    /**
     * Starts the server: loads the stored configuration, binds the ports, and returns once both
     * accept connections.
     *
     * @throws IllegalStateException when {@link #tls} was not set
     * @throws IOException when the stored configuration is damaged or a port cannot be bound
     */
    public ControlPlaneServer start() throws IOException {
      ServerTls t = s.tls;
      if (t == null) {
        throw new IllegalStateException(
            "tls is required: ServerTls.pki(cert, key, ca) or ServerTls.shared(cert, key)");
      }
      return new ControlPlaneServer(ServerLifecycle.start(s.copy(), t));
    }
  }
}
