package dev.configsync.cp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import dev.configsync.ConfigSyncClient;
import dev.configsync.ConfigSyncException;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>Threading: all methods are thread-safe. Publishes are serialized. Connections are served on
 * Netty event loops (threads named {@code configsync-cp-io-*}); the admin API's publishes run on
 * one thread ({@code configsync-cp-admin}), the answers to its reads on another ({@code
 * configsync-cp-admin-read}). {@link #close()} stops every thread the server started.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
public final class ControlPlaneServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

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

  /** The default longest time an admin client may take to send a request's head: 10 s. */
  public static final Duration DEFAULT_ADMIN_REQUEST_HEAD_TIMEOUT = Duration.ofSeconds(10);

  /** The default largest number of admin connections open at once: 64. */
  public static final int DEFAULT_MAX_ADMIN_CONNECTIONS = 64;

  private final Builder settings;
  private volatile ServerTls tls;
  private volatile String tlsFilesStamp;
  private final ConfigStore store;
  private final @Nullable FleetDirectory fleet;
  private final Clock clock;
  private final NodeRegistry registry;
  private final Outlet outlet;
  private final UsageIngest usage;
  private final PublishStats publishStats = new PublishStats();
  private final Object publishLock = new Object();
  private final EventLoopGroup bossGroup;
  private final EventLoopGroup ioGroup;
  private final ExecutorService adminExecutor;
  private final ExecutorService adminReads;
  private final ExecutorService encoder;
  private final Instant startedAt;
  private long sequence; // guarded by publishLock
  // The store's revision of the configuration served (0: unknown, or a store without revisions).
  // Written under publishLock; read without it only to skip work early.
  private volatile long servedRevision;
  // The configurations taken since start, newest first, for stores that keep no history.
  private final java.util.ArrayDeque<ConfigVersion> taken = new java.util.ArrayDeque<>();
  private @Nullable Channel outletChannel;
  private @Nullable Channel adminChannel;
  private @Nullable ScheduledFuture<?> sweeper;
  private @Nullable ScheduledFuture<?> tlsWatcher;
  private volatile boolean closed;
  private volatile boolean started; // open() completed: "stopped" is logged only after that

  private ControlPlaneServer(Builder b, ServerTls tls) {
    this.settings = b;
    this.tls = tls;
    this.tlsFilesStamp = filesStamp(tls);
    this.store = b.store;
    this.fleet = b.fleet;
    this.clock = b.clock;
    this.registry =
        new NodeRegistry(clock, b.maxDataPlanes, b.maxRegistryBytes, b.maxNodeIdsPerCertificate);
    this.outlet =
        new Outlet(
            registry,
            b.version,
            b.capabilities,
            b.deadAfter(),
            b.handshakeTimeout,
            b.maxInboundFrameBytes,
            b.maxNodeLabels,
            b.maxNodePlugins);
    this.usage = new UsageIngest(registry, outlet, b.onUsage);
    this.bossGroup =
        new MultiThreadIoEventLoopGroup(
            1, new DefaultThreadFactory("configsync-cp-accept", true), NioIoHandler.newFactory());
    this.ioGroup =
        new MultiThreadIoEventLoopGroup(
            b.ioThreads,
            new DefaultThreadFactory("configsync-cp-io", true),
            NioIoHandler.newFactory());
    // Compresses frames while the publishing thread hashes; its thread ends when idle.
    this.encoder =
        new java.util.concurrent.ThreadPoolExecutor(
            0,
            1,
            30,
            TimeUnit.SECONDS,
            new java.util.concurrent.LinkedBlockingQueue<>(),
            new DefaultThreadFactory("configsync-cp-encode", true));
    // One publish at a time, and a short queue: each waiting PUT holds its body in memory.
    this.adminExecutor =
        new java.util.concurrent.ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.MILLISECONDS,
            new java.util.concurrent.ArrayBlockingQueue<>(4),
            r -> {
              Thread t = new Thread(r, "configsync-cp-admin");
              t.setDaemon(true);
              return t;
            });
    // Admin GETs, off the event loops: two threads, so that a GET /status does not wait for a large
    // GET /config; they end when idle.
    java.util.concurrent.ThreadPoolExecutor reads =
        new java.util.concurrent.ThreadPoolExecutor(
            2,
            2,
            30,
            TimeUnit.SECONDS,
            new java.util.concurrent.ArrayBlockingQueue<>(64),
            new DefaultThreadFactory("configsync-cp-admin-read", true));
    reads.allowCoreThreadTimeOut(true);
    this.adminReads = reads;
    this.startedAt = clock.instant();
  }

  /** A builder; {@link Builder#tls} is required, everything else has a default. */
  public static Builder builder() {
    return new Builder();
  }

  private void open() throws IOException {
    Optional<byte[]> stored = store.load();
    if (stored.isPresent()) {
      Published restored = decodeStored(stored.get());
      synchronized (publishLock) {
        sequence = 1;
        outlet.publish(restored);
        remember(restored, 0);
      }
      log.info(
          "Loaded configuration {} (published {}) from {}",
          restored.hash(),
          restored.publishedAt(),
          store.describe());
    }
    // After the load: a shared store tells of what other replicas publish from there on.
    store.watch(this::acceptFromStore);
    io.netty.channel.ChannelFuture outletBind =
        new ServerBootstrap()
            .group(bossGroup, ioGroup)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    // Read per connection, so rotated certificates apply to the next one.
                    SslHandler ssl = tls.sslContext().newHandler(ch.alloc());
                    ssl.setHandshakeTimeoutMillis(settings.handshakeTimeout.toMillis());
                    ch.pipeline()
                        .addLast("tls", ssl)
                        .addLast("http", new HttpServerCodec(4096, 8192, 8192))
                        .addLast("aggregator", new HttpObjectAggregator(8192))
                        .addLast("outlet-http", new OutletHttpHandler(outlet, usage));
                  }
                })
            .bind(settings.listen)
            .awaitUninterruptibly();
    outletChannel = bound(outletBind, settings.listen, "data planes");
    if (settings.admin != null) {
      InetSocketAddress adminAt = settings.admin;
      AdminApi api =
          new AdminApi(
              this,
              settings.adminToken,
              adminExecutor,
              adminReads,
              adminAt.getAddress() != null && adminAt.getAddress().isLoopbackAddress(),
              settings.adminRequestHeadTimeout,
              settings.maxAdminConnections);
      io.netty.channel.ChannelFuture adminBind =
          new ServerBootstrap()
              .group(bossGroup, ioGroup)
              .channel(NioServerSocketChannel.class)
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childHandler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      api.initChannel(ch, settings.maxAdminBodyBytes);
                    }
                  })
              .bind(settings.admin)
              .awaitUninterruptibly();
      adminChannel = bound(adminBind, settings.admin, "the admin API");
    }
    Duration reload = settings.tlsReloadInterval;
    if (!reload.isZero() && !tls.sourcePaths().isEmpty()) {
      tlsWatcher =
          ioGroup
              .next()
              .scheduleWithFixedDelay(
                  this::reloadTlsIfChanged,
                  reload.toMillis(),
                  reload.toMillis(),
                  TimeUnit.MILLISECONDS);
    }
    long period =
        Math.max(
            10, Math.min(settings.forgetAfter.toMillis() / 4, Duration.ofMinutes(1).toMillis()));
    sweeper =
        ioGroup
            .next()
            .scheduleAtFixedRate(
                () -> registry.forget(settings.forgetAfter), period, period, TimeUnit.MILLISECONDS);
    if (fleet != null) {
      fleet.start(registry::snapshot);
      fleet.shareUsage(usage::report);
    }
    log.info(
        "Control plane listening for data planes on {} ({} mode, version {}){}; store: {}",
        hostPort(address()),
        tls.mode().name().toLowerCase(java.util.Locale.ROOT),
        settings.version,
        adminChannel == null
            ? ""
            : ", admin API on http://"
                + hostPort(adminAddress().orElseThrow())
                + (settings.adminToken == null ? " (no token)" : " (bearer token required)"),
        store.describe());
    started = true;
  }

  /** The bound channel, or an IOException that names the address and what it was for. */
  private static Channel bound(
      io.netty.channel.ChannelFuture bind, InetSocketAddress address, String what)
      throws IOException {
    if (!bind.isSuccess()) {
      Throwable cause = bind.cause();
      throw new IOException(
          "cannot listen on "
              + hostPort(address)
              + " for "
              + what
              + ": "
              + (cause == null ? "unknown reason" : cause.getMessage()),
          cause);
    }
    return bind.channel();
  }

  private Published decodeStored(byte[] payload) throws IOException {
    try {
      JsonNode message;
      try (InputStream in = Gzip.inflating(payload, settings.maxInflatedBytes)) {
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
      return new Published(1, hashes, payload, table, Compatibility.pluginsUsed(table), at);
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
    return publishFrozen(parseCounted(json), null, isPlainUtf8(json) ? json : null);
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
    byte[] json = callersJson(config);
    return publishFrozen(parseCounted(json), null, json);
  }

  /** The caller's tree as JSON: the copy a publish takes. */
  private static byte[] callersJson(JsonNode config) {
    try {
      return Json.WRITER.writeValueAsBytes(config);
    } catch (JsonProcessingException e) {
      throw new InvalidConfigurationException("the configuration cannot be written as JSON", e);
    }
  }

  private static byte[] writeJson(JsonNode config) {
    try {
      return Json.WRITER.writeValueAsBytes(config);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a parsed configuration could not be written as JSON", e);
    }
  }

  static JsonNode parseJson(byte[] json) {
    try {
      return Json.readFrozen(json);
    } catch (JsonProcessingException e) {
      com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
      throw new InvalidConfigurationException(
          "not valid JSON"
              + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr())
              + ": "
              + e.getOriginalMessage(),
          e);
    } catch (IOException e) {
      throw new InvalidConfigurationException("not valid JSON: " + e.getMessage(), e);
    }
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
    byte[] json = callersJson(config);
    return publishFrozen(parseCounted(json), expectedHash, json);
  }

  /**
   * Whether {@code json}, which {@link #parseJson} accepted, is UTF-8 (Jackson detects UTF-16 and
   * UTF-32 by zero bytes, and skips a byte order mark), so that it can be copied into a frame as it
   * is. JSON text starts with whitespace or a bracket, both ASCII, so UTF-16 or UTF-32 text has a
   * zero byte among its first four.
   */
  static boolean isPlainUtf8(byte[] json) {
    if (json.length >= 3
        && (json[0] & 0xff) == 0xef
        && (json[1] & 0xff) == 0xbb
        && (json[2] & 0xff) == 0xbf) {
      return false;
    }
    for (int i = 0; i < Math.min(4, json.length); i++) {
      if (json[i] == 0) {
        return false;
      }
    }
    return true;
  }

  /** {@link #parseJson}, a refusal counted as a failed publish. */
  private JsonNode parseCounted(byte[] json) {
    try {
      return parseJson(json);
    } catch (RuntimeException e) {
      publishStats.failed(e);
      throw e;
    }
  }

  /** The publishes counted since start, for {@code GET /metrics}. */
  PublishStats publishStats() {
    return publishStats;
  }

  /** Publishes an already parsed, frozen tree. */
  PublishResult publishFrozen(JsonNode config) {
    return publishFrozen(config, null, null);
  }

  /**
   * Publishes an already parsed, frozen tree; with {@code expectedHash}, only if the configuration
   * in force has that hash.
   *
   * <p>The frame is compressed on the encoder thread while this one computes the hashes (the two
   * costliest steps of a publish, each about as long as the other, so a publish on two cores takes
   * about the longer of them instead of their sum).
   *
   * @param json the UTF-8 JSON {@code config} was parsed from (one value, nothing after it), which
   *     goes into the frame as it is; null to write the tree instead
   */
  PublishResult publishFrozen(
      JsonNode config, @Nullable String expectedHash, byte @Nullable [] json) {
    PublishResult result;
    try {
      result = publishUncounted(config, expectedHash, json);
    } catch (RuntimeException e) {
      publishStats.failed(e);
      throw e;
    }
    publishStats.published(result.changed());
    return result;
  }

  private PublishResult publishUncounted(
      JsonNode config, @Nullable String expectedHash, byte @Nullable [] json) {
    if (closed) {
      throw new IllegalStateException("the control plane is closed");
    }
    if (!config.isObject()) {
      throw new InvalidConfigurationException(
          "a configuration must be a JSON object, found " + config.getNodeType());
    }
    try {
      settings.validator.accept(config);
    } catch (IllegalArgumentException e) {
      throw new InvalidConfigurationException("refused by the validator: " + e.getMessage(), e);
    }
    CompletableFuture<HybridProtocol.ReconfigureFrame> encoding;
    try {
      encoding =
          CompletableFuture.supplyAsync(
              () -> HybridProtocol.ReconfigureFrame.begin(json != null ? json : writeJson(config)),
              encoder);
    } catch (RejectedExecutionException e) {
      throw new IllegalStateException("the control plane is closed", e);
    }
    ConfigHashes hashes = ConfigHash.configHashes(config);
    synchronized (publishLock) {
      if (closed) { // checked again under the lock: close() closes the store under it
        throw new IllegalStateException("the control plane is closed");
      }
      Published current = outlet.latest();
      if (current != null && current.hash().equals(hashes.config())) {
        return new PublishResult(hashes, false, current.publishedAt(), current.frame().length);
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
      byte[] frame;
      try {
        frame = encoding.join().finish(hashes, now.toEpochMilli() / 1000.0, null);
      } catch (CompletionException e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        throw new IllegalStateException("the configuration could not be encoded: " + cause, cause);
      }
      if (frame.length > settings.maxPayloadBytes) {
        throw InvalidConfigurationException.tooLarge(
            "the compressed configuration is "
                + frame.length
                + " bytes; data planes accept at most "
                + settings.maxPayloadBytes
                + " (maxPayloadBytes, Kong's cluster_max_payload)");
      }
      long revision;
      try {
        revision = store.save(frame, hashes.config(), current == null ? null : current.hash());
      } catch (ConfigOutcomeUnknownException e) {
        log.warn(
            "The outcome of publishing configuration {} is unknown: {}; still serving {} until the"
                + " store shows which configuration is in force",
            hashes.config(),
            e.getMessage(),
            currentHash);
        throw new PublishOutcomeUnknownException(
            hashes.config(),
            "the store may or may not have applied configuration "
                + hashes.config()
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
      // A successful compare-and-set is newer than everything committed before it, so its revision
      // is above servedRevision (nothing is taken from the store while this lock is held).
      Published published =
          new Published(++sequence, hashes, frame, config, Compatibility.pluginsUsed(config), now);
      outlet.publish(published);
      servedRevision = Math.max(servedRevision, revision);
      remember(published, revision);
      log.info(
          "Published configuration {} ({} bytes compressed): {}",
          hashes.config(),
          frame.length,
          fanOut(published));
      return new PublishResult(hashes, true, now, frame.length);
    }
  }

  /**
   * Takes a configuration saved in the shared store (by another replica, or by this one when its
   * outcome was unknown): checked like a stored one, then sent to this replica's nodes without
   * being saved again. Ordered by the store's revisions only: a revision at or below the one served
   * is ignored (this replica's own publish coming back, or an older one overtaken by a newer
   * publish), so the replica never goes back. Runs on the store's thread.
   */
  private void acceptFromStore(byte[] payload, String hash, long revision) {
    if (closed || revision <= servedRevision) {
      return;
    }
    Published decoded;
    try {
      decoded = decodeStored(payload);
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
      outlet.publish(published);
      remember(published, revision);
      log.info(
          "Configuration {} (store revision {}) taken from {}, where another replica or an earlier"
              + " publish with an unknown outcome wrote it; {}",
          published.hash(),
          revision,
          store.describe(),
          fanOut(published));
    }
  }

  /**
   * Who {@code published} goes to, for the log: the compatible nodes it is sent to and, per reason,
   * those it is withheld from (a count of connected nodes alone hid that every one was withheld).
   */
  private String fanOut(Published published) {
    Outlet.Tally tally = outlet.tally(published.plugins());
    StringBuilder text =
        new StringBuilder("sent to ").append(tally.sent()).append(" data plane(s)");
    if (!tally.withheld().isEmpty()) {
      text.append(", withheld from ");
      String sep = "";
      for (Map.Entry<DataPlaneSyncStatus, Integer> e : tally.withheld().entrySet()) {
        text.append(sep)
            .append(e.getValue())
            .append(" (")
            .append(e.getKey().wireName())
            .append(')');
        sep = ", ";
      }
    }
    if (tally.awaitingBasicInfo() > 0) {
      text.append(", ").append(tally.awaitingBasicInfo()).append(" not yet identified");
    }
    return text.toString();
  }

  /** Records a configuration taken into force, for stores that keep no history (publishLock). */
  private void remember(Published p, long revision) {
    taken.addFirst(
        new ConfigVersion(p.hash(), revision > 0 ? revision : sequence, p.publishedAt(), null));
    while (taken.size() > MAX_HISTORY) {
      taken.removeLast();
    }
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

  /**
   * Why this control plane is degraded (its store cannot be written: publishes are refused while
   * the configuration in force keeps being served), or empty when it is healthy.
   */
  public Optional<String> degradedReason() {
    return store.unavailable();
  }

  /** The configuration in force, or empty before the first publish. */
  public Optional<PublishedConfig> currentConfig() {
    Published p = outlet.latest();
    return p == null
        ? Optional.empty()
        : Optional.of(
            new PublishedConfig(p.hashes(), p.config(), p.publishedAt(), p.frame().length));
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
    return usage.report();
  }

  /**
   * The whole fleet's usage, as {@code GET /usage} reports it: with a {@link
   * Builder#fleetDirectory} that shares usage (etcd's does), the sum over every replica of this
   * replica's figures as they are now and the others' as they last shared them (within the
   * directory's flush interval); otherwise the same as {@link #usage()}.
   */
  public UsageReport fleetUsage() {
    Map<String, UsageReport> replicas = usageByReplica();
    return replicas.isEmpty() ? usage.report() : UsageReport.sum(replicas.values());
  }

  /** Every replica's usage by name, or empty when no fleet directory shares usage. */
  Map<String, UsageReport> usageByReplica() {
    return fleet == null ? Map.of() : fleet.usageByReplica();
  }

  /**
   * Every data plane seen and not yet forgotten, sorted by hostname then id. With a {@link
   * Builder#fleetDirectory}, also those other replicas serve: a node known to several replicas is
   * listed once, as the replica it is connected to (or, if none, the one that saw it last) reports
   * it.
   */
  public List<DataPlaneInfo> dataPlanes() {
    List<DataPlaneInfo> local = registry.snapshot();
    if (fleet == null) {
      return local;
    }
    Map<String, DataPlaneInfo> merged = new LinkedHashMap<>();
    for (DataPlaneInfo node : local) {
      merged.put(node.id(), node);
    }
    for (DataPlaneInfo node : fleet.remote()) {
      merged.merge(node.id(), node, ControlPlaneServer::fresher);
    }
    return merged.values().stream()
        .sorted(
            java.util.Comparator.comparing(DataPlaneInfo::hostname)
                .thenComparing(DataPlaneInfo::id))
        .toList();
  }

  private static DataPlaneInfo fresher(DataPlaneInfo a, DataPlaneInfo b) {
    if (a.connected() != b.connected()) {
      return a.connected() ? a : b;
    }
    return b.lastSeen().isAfter(a.lastSeen()) ? b : a;
  }

  /** The address data planes connect to (with the actual port when 0 was asked for). */
  public InetSocketAddress address() {
    Channel c = outletChannel;
    if (c == null) {
      throw new IllegalStateException("not started");
    }
    return (InetSocketAddress) c.localAddress();
  }

  /** The admin API's address, or empty when the admin API is off. */
  public Optional<InetSocketAddress> adminAddress() {
    Channel c = adminChannel;
    return c == null ? Optional.empty() : Optional.of((InetSocketAddress) c.localAddress());
  }

  /** The version this control plane checks nodes against. */
  public String version() {
    return settings.version;
  }

  /** The TLS material in use for new connections. */
  public ServerTls tls() {
    return tls;
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
    ServerTls current = tls;
    String stamp = filesStamp(current);
    ServerTls reloaded = current.reload();
    tls = reloaded;
    tlsFilesStamp = stamp;
    log.info("Reloaded TLS material for new connections: {}", reloaded);
  }

  private void reloadTlsIfChanged() {
    if (filesStamp(tls).equals(tlsFilesStamp)) {
      return;
    }
    try {
      reloadTls();
    } catch (IllegalArgumentException e) {
      // Half-rotated files (a new certificate with the old key) must not replace good material;
      // the stamp is left alone so the next check tries again.
      log.warn(
          "TLS files changed but cannot be used yet; keeping the previous ones: {}",
          e.getMessage());
    }
  }

  /** Sizes and modification times of the TLS files, to notice a rotation cheaply. */
  private static String filesStamp(ServerTls tls) {
    StringBuilder stamp = new StringBuilder();
    for (java.nio.file.Path p : tls.sourcePaths()) {
      try {
        stamp
            .append(java.nio.file.Files.getLastModifiedTime(p).toMillis())
            .append('/')
            .append(java.nio.file.Files.size(p))
            .append(';');
      } catch (IOException e) {
        stamp.append("missing;");
      }
    }
    return stamp.toString();
  }

  /** Where the configuration is stored. */
  public String storeDescription() {
    return store.describe();
  }

  /** When this server started. */
  public Instant startedAt() {
    return startedAt;
  }

  Outlet outlet() {
    return outlet;
  }

  boolean isClosed() {
    return closed;
  }

  int connectedCount() {
    return outlet.sessions.size();
  }

  /**
   * Stops accepting connections, closes every data plane connection (nodes keep serving their
   * configuration and reconnect with their usual delay), stops every thread and closes the store.
   * Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (ScheduledFuture<?> timer : new ScheduledFuture<?>[] {sweeper, tlsWatcher}) {
      if (timer != null) {
        timer.cancel(false);
      }
    }
    // Count the usage batches already received, and queue their acks ahead of the close frames.
    usage.close(Duration.ofSeconds(2));
    List<OutletSession> open = new ArrayList<>(outlet.sessions);
    for (OutletSession session : open) {
      session.closeFromAnyThread(
          io.netty.handler.codec.http.websocketx.WebSocketCloseStatus.ENDPOINT_UNAVAILABLE,
          "the control plane is shutting down");
    }
    // Each node answers the close frame, or its connection is closed after a bound; the event
    // loops must not close the connections (dropping close frames not yet sent) before that.
    long deadline =
        System.nanoTime()
            + TimeUnit.MILLISECONDS.toNanos(OutletSession.CLOSE_REPLY_TIMEOUT_MS + 1000);
    for (OutletSession session : open) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !session.closeFuture().awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
        log.warn(
            "Data plane connections still open {} ms after the close frames; closing them",
            OutletSession.CLOSE_REPLY_TIMEOUT_MS + 1000);
        break;
      }
    }
    for (Channel c : new Channel[] {outletChannel, adminChannel}) {
      if (c != null) {
        c.close().syncUninterruptibly();
      }
    }
    ioGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    bossGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    adminExecutor.shutdownNow();
    adminReads.shutdownNow();
    try {
      if (!adminExecutor.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn("An admin publish did not finish within 5 s of close()");
      }
      if (!adminReads.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn("An admin read did not finish within 5 s of close()");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (fleet != null && fleet != store) {
      try {
        fleet.close();
      } catch (IOException e) {
        log.warn("Closing the fleet directory failed: {}", e.toString());
      }
    }
    synchronized (publishLock) { // no publish is saving now, and none will start
      try {
        store.close();
      } catch (IOException e) {
        log.warn("Closing the config store failed: {}", e.toString());
      }
    }
    encoder.shutdown(); // a frame still compressing finishes; its publish already gave up
    if (started) {
      log.info("Control plane stopped");
    } else {
      // start() failed and said why; it never listened, so it did not "stop".
      log.debug("Released what the failed start had opened");
    }
  }

  static String hostPort(InetSocketAddress a) {
    return OutletHttpHandler.hostAddress(a) + ":" + a.getPort();
  }

  /**
   * Settings of a {@link ControlPlaneServer}. Every setter checks its argument at once and throws
   * {@link IllegalArgumentException} naming the setting.
   */
  public static final class Builder {
    private @Nullable ServerTls tls;
    private InetSocketAddress listen = new InetSocketAddress(DEFAULT_PORT);
    private @Nullable InetSocketAddress admin;
    private @Nullable String adminToken;
    private ConfigStore store = new InMemoryConfigStore();
    private @Nullable FleetDirectory fleet;
    private Duration heartbeat = DEFAULT_HEARTBEAT;
    private @Nullable Duration deadAfter;
    private Duration handshakeTimeout = Duration.ofSeconds(10);
    private long maxPayloadBytes = ConfigSyncClient.DEFAULT_MAX_PAYLOAD_BYTES;
    private long maxInflatedBytes = ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;
    private int maxInboundFrameBytes = DEFAULT_MAX_INBOUND_FRAME_BYTES;
    private int maxAdminBodyBytes = (int) ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;
    private Duration forgetAfter = DEFAULT_FORGET_AFTER;
    private int maxDataPlanes = DEFAULT_MAX_DATA_PLANES;
    private long maxRegistryBytes = DEFAULT_MAX_REGISTRY_BYTES;
    private int maxNodeIdsPerCertificate;
    private int maxNodeLabels = DEFAULT_MAX_NODE_LABELS;
    private int maxNodePlugins = DEFAULT_MAX_NODE_PLUGINS;
    private Duration adminRequestHeadTimeout = DEFAULT_ADMIN_REQUEST_HEAD_TIMEOUT;
    private int maxAdminConnections = DEFAULT_MAX_ADMIN_CONNECTIONS;
    private String version = ConfigSyncClient.VERSION;
    private final Map<String, String> capabilities = new LinkedHashMap<>();
    private Consumer<JsonNode> validator = config -> {};
    private Clock clock = Clock.systemUTC();
    private int ioThreads;
    private Duration tlsReloadInterval = Duration.ofSeconds(30);
    private Consumer<UsageBatch> onUsage = batch -> {};

    private Builder() {}

    /**
     * A snapshot of these settings, so that changing the builder later cannot reach a server. Every
     * field is copied by reflection, so that a setting added later cannot be forgotten here.
     */
    private Builder copy() {
      Builder c = new Builder();
      c.capabilities.putAll(capabilities);
      for (java.lang.reflect.Field field : Builder.class.getDeclaredFields()) {
        int modifiers = field.getModifiers();
        if (java.lang.reflect.Modifier.isStatic(modifiers)
            || java.lang.reflect.Modifier.isFinal(modifiers)) {
          continue; // the only final field, capabilities, is copied above
        }
        try {
          field.set(c, field.get(this));
        } catch (IllegalAccessException e) {
          throw new IllegalStateException("cannot copy the setting " + field.getName(), e);
        }
      }
      return c;
    }

    /** The control plane's TLS material (required). */
    public Builder tls(ServerTls tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * Where data planes connect; default all interfaces, port {@value #DEFAULT_PORT}. Port 0 picks
     * a free port ({@link #address()} tells which).
     */
    public Builder listen(InetSocketAddress address) {
      this.listen = Objects.requireNonNull(address, "listen");
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
      this.admin = Objects.requireNonNull(address, "admin");
      return this;
    }

    /** Requires {@code Authorization: Bearer <token>} on every admin request. */
    public Builder adminToken(String token) {
      Objects.requireNonNull(token, "adminToken");
      requireArgument(
          token.length() >= 16 && token.chars().noneMatch(Character::isWhitespace),
          "adminToken must be at least 16 characters without whitespace");
      this.adminToken = token;
      return this;
    }

    /** Where published configurations are kept; default {@link InMemoryConfigStore}. */
    public Builder configStore(ConfigStore store) {
      this.store = Objects.requireNonNull(store, "configStore");
      return this;
    }

    /**
     * Shares this control plane's data planes with the other replicas of a highly available control
     * plane, so that {@link #dataPlanes()} lists the whole fleet (default: none, this control
     * plane's nodes only). The server closes it when it closes.
     */
    public Builder fleetDirectory(FleetDirectory directory) {
      this.fleet = Objects.requireNonNull(directory, "fleetDirectory");
      return this;
    }

    /**
     * The data planes' heartbeat interval (default 30 s); a node silent for 1.5 times this is
     * dropped, unless {@link #deadAfter} says otherwise.
     */
    public Builder heartbeatInterval(Duration interval) {
      requirePositive("heartbeatInterval", interval);
      this.heartbeat = interval;
      return this;
    }

    /** How long a node may send no ping before it is dropped; default 1.5 x heartbeat. */
    public Builder deadAfter(Duration silence) {
      requirePositive("deadAfter", silence);
      this.deadAfter = silence;
      return this;
    }

    /** The longest a TLS handshake plus the WebSocket upgrade may take; default 10 s. */
    public Builder handshakeTimeout(Duration timeout) {
      requirePositive("handshakeTimeout", timeout);
      this.handshakeTimeout = timeout;
      return this;
    }

    /**
     * The largest compressed configuration published (default 16 MiB, the data planes' default); a
     * larger one is refused. Keep it no larger than what the data planes accept.
     */
    public Builder maxPayloadBytes(long bytes) {
      requireArgument(
          bytes >= 1024 && bytes <= Integer.MAX_VALUE - 8,
          "maxPayloadBytes must be between 1024 and " + (Integer.MAX_VALUE - 8) + ": " + bytes);
      this.maxPayloadBytes = bytes;
      return this;
    }

    /** The largest frame read from a data plane (basic_info, error reports); default 1 MiB. */
    public Builder maxInboundFrameBytes(int bytes) {
      requireArgument(bytes >= 1024, "maxInboundFrameBytes must be at least 1024 bytes: " + bytes);
      this.maxInboundFrameBytes = bytes;
      return this;
    }

    /** The largest request body the admin API reads; default 256 MiB. */
    public Builder maxAdminBodyBytes(int bytes) {
      requireArgument(bytes >= 1024, "maxAdminBodyBytes must be at least 1024 bytes: " + bytes);
      this.maxAdminBodyBytes = bytes;
      return this;
    }

    /** How long a disconnected node stays listed; default 14 days. */
    public Builder forgetAfter(Duration after) {
      requirePositive("forgetAfter", after);
      this.forgetAfter = after;
      return this;
    }

    /**
     * The most data planes the registry holds, connected or not (default 5,000). When a new node
     * would pass it, the disconnected node seen longest ago is evicted; when every entry is
     * connected, the new node is refused (close code 1008, logged).
     */
    public Builder maxDataPlanes(int count) {
      requireArgument(count >= 1, "maxDataPlanes must be at least 1: " + count);
      this.maxDataPlanes = count;
      return this;
    }

    /**
     * The registry's memory budget (default 64 MiB), against an estimate of each entry's heap (its
     * text plus per-string overhead, about 10 KB for a typical node, at most about 107 KB at the
     * default limits; see docs/control-plane.md). Enforced as {@link #maxDataPlanes}: disconnected
     * nodes are evicted first, longest unseen first.
     */
    public Builder maxRegistryBytes(long bytes) {
      requireArgument(
          bytes >= 1 << 20, "maxRegistryBytes must be at least 1 MiB (1048576): " + bytes);
      this.maxRegistryBytes = bytes;
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
      requireArgument(count >= 0, "maxNodeIdsPerCertificate must not be negative: " + count);
      this.maxNodeIdsPerCertificate = count;
      return this;
    }

    /**
     * The most labels a node may declare in {@code basic_info} (default 64; keys at most 64
     * characters, values at most 256). A node that sends more is refused: close code 1008 with the
     * reason, logged at WARN.
     */
    public Builder maxNodeLabels(int count) {
      requireArgument(count >= 0 && count <= 10_000, "maxNodeLabels must be 0 to 10000: " + count);
      this.maxNodeLabels = count;
      return this;
    }

    /**
     * The most plugins a node may declare in {@code basic_info} (default 256; names at most 128
     * characters, versions at most 64). A node that sends more is refused: close code 1008 with the
     * reason, logged at WARN.
     */
    public Builder maxNodePlugins(int count) {
      requireArgument(count >= 0 && count <= 10_000, "maxNodePlugins must be 0 to 10000: " + count);
      this.maxNodePlugins = count;
      return this;
    }

    /**
     * The longest an admin client may take to send a request's head (request line and headers),
     * counted from its first byte (default 10 s). A slower client is answered 408 and the
     * connection is closed.
     */
    public Builder adminRequestHeadTimeout(Duration timeout) {
      requirePositive("adminRequestHeadTimeout", timeout);
      requireArgument(
          timeout.compareTo(Duration.ofMinutes(10)) <= 0,
          "adminRequestHeadTimeout must be at most 10 minutes: " + timeout);
      this.adminRequestHeadTimeout = timeout;
      return this;
    }

    /**
     * The most admin connections open at once (default 64); one more is answered 503 {@code
     * too_many_connections} and closed.
     */
    public Builder maxAdminConnections(int count) {
      requireArgument(
          count >= 1 && count <= 100_000, "maxAdminConnections must be 1 to 100000: " + count);
      this.maxAdminConnections = count;
      return this;
    }

    /**
     * The version nodes are checked against (same major, node minor not newer); default this
     * library's version.
     */
    public Builder version(String version) {
      Objects.requireNonNull(version, "version");
      requireArgument(
          Compatibility.majorMinor(version).isPresent(),
          "version must look like MAJOR.MINOR[.PATCH]: " + version);
      this.version = version;
      return this;
    }

    /**
     * The version of a plugin (capability) on this control plane: a node that declares it with
     * another major version does not get configurations that use it. A plugin not named here is
     * checked for presence only.
     */
    public Builder capability(String name, String version) {
      requireArgument(name != null && !name.isBlank(), "capability name must not be blank");
      Objects.requireNonNull(version, "capability version");
      requireArgument(
          Compatibility.majorMinor(version).isPresent(),
          "capability " + name + " version must look like MAJOR.MINOR[.PATCH]: " + version);
      capabilities.put(name, version);
      return this;
    }

    /**
     * Checks every configuration before it is published; throw {@link IllegalArgumentException}
     * with a message saying what is wrong to refuse it. Runs on the publishing thread.
     */
    public Builder validator(Consumer<JsonNode> validator) {
      this.validator = Objects.requireNonNull(validator, "validator");
      return this;
    }

    /** The clock for timestamps (last seen, published at, forgetting); default UTC system clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * How often the TLS files are checked for a rotation (size or modification time changed);
     * default 30 s; {@link Duration#ZERO} turns the check off. New material applies to new
     * connections only.
     */
    public Builder tlsReloadInterval(Duration interval) {
      Objects.requireNonNull(interval, "tlsReloadInterval");
      requireArgument(
          !interval.isNegative(), "tlsReloadInterval must not be negative: " + interval);
      this.tlsReloadInterval = interval;
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
      this.onUsage = Objects.requireNonNull(callback, "onUsage");
      return this;
    }

    /** Event loop threads for connections; default 0, Netty's choice (2 x cores). */
    public Builder ioThreads(int threads) {
      requireArgument(threads >= 0, "ioThreads must not be negative: " + threads);
      this.ioThreads = threads;
      return this;
    }

    private Duration deadAfter() {
      return deadAfter != null ? deadAfter : heartbeat.multipliedBy(3).dividedBy(2);
    }

    /**
     * Starts the server: loads the stored configuration, binds the ports, and returns once both
     * accept connections.
     *
     * @throws IllegalStateException when {@link #tls} was not set
     * @throws IOException when the stored configuration is damaged or a port cannot be bound
     */
    public ControlPlaneServer start() throws IOException {
      ServerTls t = tls;
      if (t == null) {
        throw new IllegalStateException(
            "tls is required: ServerTls.pki(cert, key, ca) or ServerTls.shared(cert, key)");
      }
      ControlPlaneServer server = new ControlPlaneServer(copy(), t);
      try {
        server.open();
      } catch (IOException | RuntimeException e) {
        server.close();
        if (e instanceof IOException io) {
          throw io;
        }
        throw e;
      }
      return server;
    }

    private static void requirePositive(String name, Duration d) {
      Objects.requireNonNull(d, name);
      requireArgument(!d.isNegative() && !d.isZero(), name + " must be positive: " + d);
    }

    private static void requirePort(String name, int port) {
      requireArgument(port >= 0 && port <= 65535, name + " port must be 0 to 65535: " + port);
    }

    private static void requireArgument(boolean ok, String message) {
      if (!ok) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}
