package dev.configsync.examples.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.configsync.ConfigChanges;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.routes.KongRoutes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP reverse proxy configured by a control plane: it embeds a {@link ConfigSyncClient},
 * turns each configuration into a {@link RoutingTable}, and proxies requests by it.
 *
 * <pre>{@code
 * Gateway gateway = Gateway.builder()
 *     .listen(new InetSocketAddress(8000))
 *     .start(ConfigSyncClient.builder()
 *         .controlPlane(URI.create("wss://cp.example.com:8005"))
 *         .transport(OkHttpTransport.create(TlsConfig.pki(cert, key, ca)))
 *         .snapshotStore(FileSnapshotStore.open(cacheDir)));
 * }</pre>
 *
 * <p><b>Configuration changes.</b> The gateway installs a {@link ConfigSyncClient.Builder#validator
 * validator} that builds the routing table of each new configuration and refuses one it cannot
 * serve (the client then keeps the running one), and an {@link ConfigSyncClient.Builder#onSnapshot
 * onSnapshot} listener that publishes the new table with one atomic write. A request reads the
 * table once, so it is routed wholly by the old table or wholly by the new one. A configuration
 * that came as a change ({@link ConfigSnapshot#changes()}) updates the table in place: the new
 * table is made from the old one and the changed services and routes only, sharing everything else
 * with it ({@link RoutingTable#withChanges}); the old table is never modified, so a request in
 * flight is not disturbed.
 *
 * <p><b>Plugins.</b> The gateway runs no plugins. It declares to the control plane only the ones
 * given to {@link Builder#plugin} (none by default), and refuses a configuration that uses any
 * other, so that it never routes without a plugin the configuration asks for.
 *
 * <p><b>Responses of its own</b> (JSON {@code {"message": "..."}}): 503 when the license has
 * expired or before any configuration, 404 when no route matches, 413 when the request body is over
 * the limit, 502 when the upstream fails, 504 when it does not answer within the service's {@code
 * read_timeout}. Every response routed by a configuration carries its hash in {@code
 * X-Configsync-Hash}.
 *
 * <p><b>Threading and ownership.</b> Thread-safe. Requests run on a fixed pool of daemon threads
 * ({@code gateway-http-*}); upstream calls use one JDK {@link HttpClient}. The gateway owns the
 * client it builds, its HTTP server and its threads; {@link #close()} releases them.
 */
public final class Gateway implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Gateway.class);
  private static final Pattern PLUGIN_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

  /** MAJOR.MINOR[.PATCH] with an optional suffix, printable, at most 64 characters. */
  static final Pattern VERSION =
      Pattern.compile("(?=.{1,64}$)\\d{1,9}\\.\\d{1,9}(\\.\\d{1,9})?([-+.][0-9A-Za-z.+-]*)?");

  private final AtomicReference<@Nullable RoutingTable> table = new AtomicReference<>();
  private final AtomicReference<@Nullable RoutingTable> validated = new AtomicReference<>();
  // Routing tables made in place from a configuration's changes rather than read whole; for tests.
  private final java.util.concurrent.atomic.AtomicLong madeInPlace =
      new java.util.concurrent.atomic.AtomicLong();
  private final Map<String, String> plugins; // declared: name to version
  private final AtomicBoolean closed = new AtomicBoolean();
  private final HttpServer server;
  private final ExecutorService requestThreads;
  private final ExecutorService upstreamThreads;
  private @Nullable ConfigSyncClient client;

  private Gateway(
      HttpServer server,
      ExecutorService requestThreads,
      ExecutorService upstream,
      Map<String, String> plugins) {
    this.plugins = Map.copyOf(plugins);
    this.server = server;
    this.requestThreads = requestThreads;
    this.upstreamThreads = upstream;
  }

  /** A builder with the defaults: {@code 127.0.0.1:8000}, 32 request threads, 8 MiB bodies. */
  public static Builder builder() {
    return new Builder();
  }

  /** The address the gateway listens on (with the actual port when 0 was asked for). */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  /** The embedded client: its {@link ConfigSyncClient#status()} tells what the gateway runs. */
  public ConfigSyncClient client() {
    return Objects.requireNonNull(client, "client");
  }

  /** The routing table requests are routed by now, or empty before the first configuration. */
  public Optional<RoutingTable> routingTable() {
    return Optional.ofNullable(table.get());
  }

  /**
   * Stops accepting requests, stops the client (which leaves its cache intact) and the gateway's
   * threads. Requests in flight are cut off. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    server.stop(0);
    if (client != null) {
      client.close();
    }
    requestThreads.shutdownNow();
    upstreamThreads.shutdownNow();
    try {
      requestThreads.awaitTermination(5, TimeUnit.SECONDS);
      upstreamThreads.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    log.info("gateway on {} stopped", server.getAddress());
  }

  /**
   * Runs in the client's pipeline thread: refuse a configuration this gateway cannot route by, and
   * make its routing table. A configuration that came as a change to the one in force (its {@link
   * ConfigSnapshot#changes()} are not {@code initial}) updates the table in force in place: only
   * the changed entities are read and checked ({@link RoutingTable#withChanges}); any other is read
   * whole.
   */
  private void validate(ConfigSnapshot snapshot) {
    RoutingTable running = table.get();
    ConfigChanges changes = snapshot.changes();
    boolean inPlace =
        running != null
            && !changes.initial()
            && client != null
            && client
                .current()
                .map(ConfigSnapshot::hash)
                .filter(running.hash()::equals)
                .isPresent();
    Set<String> unknown =
        new TreeSet<>(
            inPlace
                ? pluginsUsed(changes, snapshot.config())
                : KongRoutes.pluginsUsed(snapshot.config()));
    unknown.removeAll(plugins.keySet());
    if (!unknown.isEmpty()) {
      // Routing without them would serve more than the configuration allows (no authentication,
      // no rate limit...). A control plane that checks compatibility never sends such a
      // configuration; this catches one that does not, and manual loads.
      throw new IllegalArgumentException(
          "the configuration uses plugin(s) "
              + unknown
              + " that this gateway does not run (it declares "
              + (plugins.isEmpty() ? "none" : plugins.keySet().toString())
              + ")");
    }
    if (inPlace && running != null) {
      validated.set(running.withChanges(snapshot.hash(), snapshot.config(), changes));
      madeInPlace.incrementAndGet();
    } else {
      validated.set(RoutingTable.from(snapshot.hash(), snapshot.config()));
    }
  }

  /** How many routing tables were made in place from a configuration's changes; for tests. */
  long tablesMadeInPlace() {
    return madeInPlace.get();
  }

  /**
   * The plugins the changed part of a configuration uses: every plugin the configuration in force
   * used was declared (it was accepted), so only added, updated and replaced entities can bring a
   * new one.
   */
  static Set<String> pluginsUsed(ConfigChanges changes, JsonNode config) {
    Set<String> names = new TreeSet<>();
    changes
        .collections()
        .forEach(
            (collection, c) -> {
              for (Map<String, JsonNode> entities : List.of(c.added(), c.updated())) {
                for (JsonNode entity : entities.values()) {
                  if (collection.equals("plugins") && entity.path("name").isTextual()) {
                    names.add(entity.path("name").textValue());
                  }
                  names.addAll(KongRoutes.pluginsUsed(entity));
                }
              }
            });
    for (String member : changes.replaced()) {
      JsonNode value = config.get(member);
      if (value != null) {
        ObjectNode alone = JsonNodeFactory.instance.objectNode();
        alone.set(member, value);
        names.addAll(KongRoutes.pluginsUsed(alone));
      }
    }
    return names;
  }

  /** Runs on the client's listener thread, once per new configuration, in order. */
  private void apply(ConfigSnapshot snapshot) {
    RoutingTable next = validated.get();
    if (next == null || !next.hash().equals(snapshot.hash())) {
      // validated already: cannot fail
      RoutingTable running = table.get();
      next =
          running == null
              ? RoutingTable.from(snapshot.hash(), snapshot.config())
              : running.withChanges(snapshot.hash(), snapshot.config(), snapshot.changes());
    }
    table.set(next);
    log.info(
        "routing by configuration {} ({}): {} services, {} routes",
        next.hash(),
        snapshot.source(),
        next.serviceCount(),
        next.routeCount());
  }

  /** Builds and starts a {@link Gateway}. Settings are checked when set. */
  public static final class Builder {
    private InetSocketAddress listen =
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 8000);
    private int threads = 32;
    private long maxRequestBodyBytes = 8L * 1024 * 1024;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private @Nullable UsageRecorder usage; // default: the client's usage telemetry
    private final Map<String, String> plugins = new LinkedHashMap<>();

    private Builder() {}

    /** Where to accept requests; port 0 picks a free one. Default {@code 127.0.0.1:8000}. */
    public Builder listen(InetSocketAddress address) {
      this.listen = Objects.requireNonNull(address, "listen");
      return this;
    }

    /** How many requests are served at once (further ones queue). Default 32. */
    public Builder threads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("threads must be at least 1, got: " + threads);
      }
      this.threads = threads;
      return this;
    }

    /** The largest request body proxied (it is buffered); larger ones get a 413. Default 8 MiB. */
    public Builder maxRequestBodyBytes(long bytes) {
      if (bytes < 0 || bytes > Integer.MAX_VALUE - 16) {
        throw new IllegalArgumentException(
            "maxRequestBodyBytes must be from 0 to "
                + (Integer.MAX_VALUE - 16)
                + ", got: "
                + bytes);
      }
      this.maxRequestBodyBytes = bytes;
      return this;
    }

    /** How long to wait for an upstream TCP (and TLS) connection. Default 5 s. */
    public Builder connectTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "connectTimeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("connectTimeout must be positive, got: " + timeout);
      }
      this.connectTimeout = timeout;
      return this;
    }

    /**
     * Declares a plugin that requests through this gateway really go through, with its version: one
     * you added to the gateway, or one enforced in front of it. The gateway itself runs no plugins.
     * Declared plugins are sent to the control plane (the client's {@code capability}), which
     * withholds every configuration that uses a plugin the node does not declare; the gateway
     * refuses such a configuration too if one reaches it anyway (a manual load, a control plane
     * that does not check). Declare only what really runs: the gateway routes a configuration's
     * routes without doing anything about its plugins. Default: none.
     *
     * @throws IllegalArgumentException when the name or the version has the wrong form (name:
     *     letters, digits, '-', '_', '.'; version: MAJOR.MINOR[.PATCH][-suffix|+suffix])
     */
    public Builder plugin(String name, String version) {
      Objects.requireNonNull(name, "plugin name");
      Objects.requireNonNull(version, "plugin version");
      if (!PLUGIN_NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(
            "plugin name must be 1 to 128 letters, digits, '-', '_' or '.', starting with a letter"
                + " or digit, got: '"
                + name
                + "'");
      }
      if (!VERSION.matcher(version).matches()) {
        throw new IllegalArgumentException(
            "plugin "
                + name
                + ": version must be MAJOR.MINOR[.PATCH] with an optional -suffix or +suffix (at"
                + " most 64 characters), got: '"
                + version
                + "'");
      }
      if (plugins.putIfAbsent(name, version) != null) {
        throw new IllegalArgumentException("plugin " + name + " is declared twice");
      }
      return this;
    }

    /** Where each answered request is reported. Default: the client's usage telemetry. */
    public Builder usageRecorder(UsageRecorder recorder) {
      this.usage = Objects.requireNonNull(recorder, "usageRecorder");
      return this;
    }

    /**
     * Starts the gateway: binds the port, then builds and starts a client from {@code client}
     * (which must have at least its control plane and transport; give it a snapshot store so that
     * the gateway restarts on its last configuration). The gateway sets the builder's {@code
     * validator}, replacing any set before, and adds an {@code onSnapshot} listener. When this
     * returns, a configuration found in the cache is already in force.
     *
     * @throws IOException when the port cannot be bound
     * @throws IllegalStateException when {@code client} lacks a required setting
     */
    /**
     * The default recorder: the client's usage telemetry, which sends aggregate counts to the
     * control plane ({@code /v1/ingest}). Requests that matched no route are not sent (the client
     * counts only named services and routes); each status class is counted as its x00 code.
     */
    static UsageRecorder toControlPlane(ConfigSyncClient sync) {
      return (service, route, consumer, status) ->
          sync.usage().record(service, route, consumer, code(status));
    }

    private static int code(UsageRecorder.StatusClass status) {
      return switch (status) {
        case INFORMATIONAL -> 100;
        case SUCCESS -> 200;
        case REDIRECTION -> 300;
        case CLIENT_ERROR -> 400;
        case SERVER_ERROR -> 500;
      };
    }

    public Gateway start(ConfigSyncClient.Builder client) throws IOException {
      Objects.requireNonNull(client, "client");
      HttpServer server = HttpServer.create(listen, 128);
      ExecutorService requestThreads = Executors.newFixedThreadPool(threads, named("gateway-http"));
      ExecutorService upstreamThreads = Executors.newCachedThreadPool(named("gateway-upstream"));
      Gateway gateway = new Gateway(server, requestThreads, upstreamThreads, plugins);
      plugins.forEach(client::capability);
      try {
        ConfigSyncClient sync =
            client.validator(gateway::validate).onSnapshot(gateway::apply).build();
        gateway.client = sync;
        HttpClient upstream =
            HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(connectTimeout)
                .executor(upstreamThreads)
                .build();
        UsageRecorder recorder = usage != null ? usage : toControlPlane(sync);
        server.createContext(
            "/",
            new ProxyHandler(gateway.table::get, sync, upstream, recorder, maxRequestBodyBytes));
        server.setExecutor(requestThreads);
        server.start();
        sync.start();
        // The listener runs on another thread: install the cached configuration at once, unless
        // the listener has already installed it (or a newer one).
        sync.current()
            .ifPresent(
                snapshot ->
                    gateway.table.compareAndSet(
                        null, RoutingTable.from(snapshot.hash(), snapshot.config())));
        log.info("gateway listening on {}", server.getAddress());
        return gateway;
      } catch (RuntimeException e) {
        gateway.close();
        throw e;
      }
    }

    private static ThreadFactory named(String prefix) {
      AtomicInteger count = new AtomicInteger();
      return r -> {
        Thread t = new Thread(r, prefix + "-" + count.incrementAndGet());
        t.setDaemon(true);
        return t;
      };
    }
  }
}
