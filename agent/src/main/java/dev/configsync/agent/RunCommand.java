package dev.configsync.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.AtRestEncryption;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.DirectoryLock;
import dev.configsync.cli.StopSignal;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.micrometer.MicrometerSyncMetrics;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code configsync-agent run}: keeps the configuration current until SIGTERM or SIGINT. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    version = ConfigSyncClient.VERSION,
    sortOptions = false,
    sortSynopsis = false,
    usageHelpAutoWidth = true,
    description = {
      "Connects to the control plane over mutual TLS and keeps this node's configuration current"
          + " until SIGTERM or SIGINT.",
      "Prints one JSON object per line on stdout for each event; logs go to stderr.",
      "Exit status: 0 clean stop, 1 unexpected failure, 2 bad arguments. An expired license stops"
          + " serving (the --output file is emptied), not the agent, which waits for a renewed one."
    })
final class RunCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

  /** How long a stopping agent lets an on-change run under way finish before killing it. */
  static final Duration ON_CHANGE_STOP_GRACE = Duration.ofSeconds(10);

  /**
   * How long {@code run} waits for the lock of its cache directory while another process holds it
   * (a {@code load} writing the cache holds it for a moment; another agent holds it for good).
   */
  static final Duration LOCK_WAIT = Duration.ofSeconds(5);

  /** How long a shutdown hook waits for the agent to stop, when signals cannot be handled. */
  private static final Duration HOOK_WAIT = Duration.ofSeconds(30);

  @Option(
      names = "--control-plane",
      required = true,
      paramLabel = "wss://HOST:PORT",
      description = {
        "The control plane to connect to (path defaults to /v1/outlet, port to 443).",
        "Repeatable: give every replica of a highly available control plane; each connection"
            + " attempt picks one at random."
      })
  List<String> controlPlanes = new ArrayList<>();

  @Mixin AgentTlsOptions tlsOptions = new AgentTlsOptions();

  @Option(
      names = "--cache-dir",
      required = true,
      paramLabel = "DIR",
      description =
          "Where the running configuration and the node id are kept across restarts; locked"
              + " (agent.lock) while the agent runs, and watched for 'load' requests (incoming/).")
  @Nullable Path cacheDir;

  @Mixin CacheKeyOptions cacheKeys = new CacheKeyOptions();

  @Option(
      names = "--fallback-config",
      paramLabel = "FILE",
      description =
          "A declarative configuration (JSON or YAML) to run when the cache holds no valid one;"
              + " the control plane's replaces it.")
  @Nullable Path fallbackConfig;

  @Option(
      names = "--license-key",
      paramLabel = "FILE",
      description =
          "Ed25519 public key (PEM) that must have signed the configuration's license; enables"
              + " licensing. On expiry the --output file is emptied and --on-change runs with"
              + " CONFIGSYNC_SERVING=false; the agent keeps connecting and serves again when a"
              + " renewed license arrives.")
  @Nullable Path licenseKey;

  @Option(
      names = "--output",
      paramLabel = "FILE",
      description = "Write each configuration here, replaced atomically (see --format).")
  @Nullable Path output;

  @Option(
      names = "--format",
      paramLabel = "json|yaml",
      description = "Format of the --output file: json (pretty-printed, the default) or yaml.")
  String format = "json";

  @Option(
      names = "--on-change",
      paramLabel = "CMD",
      description =
          "Run 'sh -c CMD' after each new configuration (after the --output write), with"
              + " CONFIGSYNC_HASH and CONFIGSYNC_OUTPUT set; time limit 60s.")
  @Nullable String onChange;

  @Mixin LinkTimingOptions timing = new LinkTimingOptions();

  @Mixin DeclarationOptions declarations = new DeclarationOptions();

  @Option(
      names = "--metrics-listen",
      paramLabel = "HOST:PORT",
      description = {
        "Serve GET /metrics in the Prometheus text format on HOST:PORT ([ADDRESS]:PORT for IPv6;"
            + " port 0 takes a free one, shown in status.json as metrics_address). Plain HTTP"
            + " without authentication: use a loopback address, e.g. 127.0.0.1:9464, unless only"
            + " the scraper can reach the address. Default: off."
      })
  @Nullable String metricsListen;

  private volatile @Nullable MetricsEndpoint metricsEndpoint; // read by the status file's thread

  private final PrintStream out;
  private final PrintStream err;
  private final StopSignal stop;
  private final boolean installSignals;
  private final Clock clock = Clock.systemUTC();
  private @Nullable String licenseKeyPem;

  RunCommand(PrintStream out, PrintStream err, StopSignal stop, boolean installSignals) {
    this.out = out;
    this.err = err;
    this.stop = stop;
    this.installSignals = installSignals;
  }

  @Override
  public Integer call() {
    try {
      return runAgent();
    } finally {
      stop.markFinished();
    }
  }

  private int runAgent() {
    Setup setup;
    try {
      setup = setUp();
    } catch (BadArgumentException e) {
      err.println(AgentMain.NAME + ": " + e.getMessage());
      err.flush();
      return AgentMain.EXIT_USAGE;
    }
    try {
      return runAgent(setup);
    } finally {
      setup.lock().close(); // only now may another agent, or a load, use the cache directory
    }
  }

  /** Opens the metrics endpoint, if asked, for as long as the agent runs. */
  private int runAgent(Setup setup) {
    InetSocketAddress metricsAt = setup.metricsListen();
    if (metricsAt == null) {
      return runClient(setup, null);
    }
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (MetricsEndpoint endpoint = MetricsEndpoint.start(metricsAt, registry::scrape)) {
      metricsEndpoint = endpoint;
      log.info("serving metrics on http://{}/metrics", hostPort(endpoint.address()));
      return runClient(setup, registry);
    } catch (IOException e) {
      err.println(AgentMain.NAME + ": --metrics-listen " + metricsListen + " cannot be used: " + e);
      err.flush();
      return AgentMain.EXIT_USAGE;
    } finally {
      metricsEndpoint = null;
      registry.close();
    }
  }

  private static String hostPort(InetSocketAddress address) {
    String host = address.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
  }

  private int runClient(Setup setup, @Nullable MeterRegistry registry) {
    EventLines lines = new EventLines(out, clock);
    OutputFile outputFile = setup.output();
    if (outputFile != null) {
      outputFile.deleteStaleTemporaryFiles();
    }
    String command = onChange;
    OnChangeRunner runner =
        command == null
            ? null
            : new OnChangeRunner(
                command,
                outputFile == null ? null : outputFile.path(),
                OnChangeRunner.DEFAULT_TIMEOUT,
                lines,
                err,
                clock);
    AgentListener listener = new AgentListener(lines, outputFile, runner, clock);

    OkHttpTransport transport = OkHttpTransport.create(setup.tls());
    ConfigSyncClient client;
    try {
      ConfigSyncClient.Builder builder =
          ConfigSyncClient.builder()
              .controlPlanes(setup.controlPlanes())
              .transport(transport)
              .snapshotStore(setup.store())
              .heartbeatInterval(timing.heartbeat)
              .reconnectDelay(timing.reconnectMin, timing.reconnectMax)
              .clock(clock)
              .onSnapshot(listener::onSnapshot)
              .onEvent(listener::onEvent);
      if (registry != null) {
        builder.metrics(MicrometerSyncMetrics.of(registry));
      }
      if (fallbackConfig != null) {
        builder.fallbackConfig(fallbackConfig);
      }
      if (licenseKeyPem != null) {
        builder.licenseKeyPem(licenseKeyPem);
      }
      for (DeclarationOptions.Label label : declarations.labels) {
        builder.label(label.key(), label.value());
      }
      builder.nodeVersion(declarations.nodeVersion);
      for (DeclarationOptions.Capability capability : declarations.capabilities) {
        builder.capability(capability.name(), capability.version());
      }
      client = builder.build();
    } catch (IllegalArgumentException | IllegalStateException e) {
      transport.close();
      if (runner != null) {
        runner.close(Duration.ZERO);
      }
      err.println(AgentMain.NAME + ": " + e.getMessage());
      err.flush();
      return AgentMain.EXIT_USAGE;
    }

    if (installSignals) {
      stop.handleSignals(AgentMain.NAME, "the agent", HOOK_WAIT);
    }
    try {
      client.start();
    } catch (RuntimeException e) {
      log.error("the agent cannot start", e);
      err.println(AgentMain.NAME + ": cannot start: " + e.getMessage());
      err.flush();
      client.close();
      if (runner != null) {
        runner.close(Duration.ZERO);
      }
      return AgentMain.EXIT_FAILURE;
    }
    StatusFile statusFile =
        new StatusFile(
            Objects.requireNonNull(cacheDir, "--cache-dir"), client::status, this::declaredFields);
    statusFile.start();
    IncomingWatcher incoming =
        new IncomingWatcher(
            setup.incoming(), client, lines, clock, IncomingWatcher.configuredPollInterval());
    incoming.start();
    log.info(
        "configsync-agent {} running against {}; stop with SIGTERM or SIGINT",
        ConfigSyncClient.VERSION,
        setup.controlPlanes().size() == 1 ? setup.controlPlanes().get(0) : setup.controlPlanes());
    declarations.logDeclarations();

    boolean interrupted = false;
    try {
      stop.awaitStopRequest();
    } catch (InterruptedException e) {
      interrupted = true; // stop all the same, and cleanly: the flag is restored afterwards
    }

    log.info("configsync-agent stopping");
    try {
      incoming.close(); // a manual load under way finishes first
      client.close();
      statusFile.close(); // the last status: closed
      if (runner != null) {
        runner.close(ON_CHANGE_STOP_GRACE);
      }
      lines.print(listener.stoppedEvent());
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    return AgentMain.EXIT_OK;
  }

  /** The agent's fields of {@code status.json}: what it declares to the control plane. */
  private void declaredFields(ObjectNode status) {
    status.put("node_version", declarations.nodeVersion);
    ObjectNode plugins = status.putObject("plugins");
    declarations.declaredPlugins().forEach(plugins::put);
    MetricsEndpoint endpoint = metricsEndpoint;
    if (endpoint != null) {
      status.put("metrics_address", hostPort(endpoint.address()));
    }
  }

  /** Everything the flags describe, checked; or a message naming the flag at fault. */
  private Setup setUp() throws BadArgumentException {
    boolean shared = tlsOptions.shared();
    Path fallback = fallbackConfig;
    if (fallback != null && !Files.isReadable(fallback)) {
      throw new BadArgumentException("--fallback-config " + fallback + " cannot be read");
    }
    Path keyFile = licenseKey;
    if (keyFile != null) {
      try {
        licenseKeyPem = Files.readString(keyFile);
        LicenseVerifier.fromPem(licenseKeyPem);
      } catch (IOException | RuntimeException e) {
        throw new BadArgumentException(
            "--license-key " + keyFile + " is not a readable Ed25519 public key: " + e.getMessage(),
            e);
      }
    }
    timing.check();
    declarations.check();
    InetSocketAddress metricsAt = null;
    if (metricsListen != null) {
      try {
        metricsAt = MetricsEndpoint.parse(metricsListen);
      } catch (IllegalArgumentException e) {
        throw new BadArgumentException("--metrics-listen " + e.getMessage(), e);
      }
    }
    String command = onChange;
    if (command != null && command.isBlank()) {
      throw new BadArgumentException("--on-change must not be empty");
    }
    List<URI> uris = controlPlaneUris(controlPlanes);
    TlsConfig tls = tlsOptions.tls(shared);
    OutputFile.Format outputFormat =
        switch (format) {
          case "json" -> OutputFile.Format.JSON;
          case "yaml" -> OutputFile.Format.YAML;
          default ->
              throw new BadArgumentException("--format must be json or yaml, got: " + format);
        };
    if (output == null && !format.equals("json")) {
      throw new BadArgumentException("--format applies to the --output file: give --output too");
    }
    OutputFile file;
    try {
      file = output == null ? null : new OutputFile(output, outputFormat);
    } catch (IllegalArgumentException e) {
      throw new BadArgumentException(e.getMessage(), e);
    }
    AtRestEncryption encryption;
    try {
      encryption = cacheKeys.encryption();
    } catch (IllegalArgumentException e) {
      throw new BadArgumentException(e.getMessage(), e);
    }
    Path dir = Objects.requireNonNull(cacheDir, "--cache-dir");
    DirectoryLock lock = lockCacheDir(dir);
    try {
      // Only with the lock held: opening the store deletes temporary files that a load writing the
      // cache could be using.
      FileSnapshotStore store = CacheKeyOptions.openStore(dir, encryption);
      Path incoming = Incoming.createDirectory(dir);
      return new Setup(uris, tls, store, file, lock, incoming, metricsAt);
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw new BadArgumentException(
          "--cache-dir " + dir + " cannot be used: " + e.getMessage(), e);
    }
  }

  /** Takes the lock that makes this the one agent running on {@code dir}. */
  private static DirectoryLock lockCacheDir(Path dir) throws BadArgumentException {
    DirectoryLock lock;
    try {
      DirectoryLock.createDirectory(dir);
      lock = DirectoryLock.acquire(dir, AgentMain.LOCK_FILE, LOCK_WAIT);
    } catch (IOException e) {
      throw new BadArgumentException(
          "--cache-dir " + dir + " cannot be used: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BadArgumentException("interrupted while locking --cache-dir " + dir, e);
    }
    if (lock == null) {
      throw new BadArgumentException(
          "--cache-dir "
              + dir
              + " is in use by another configsync-agent (it holds "
              + dir.resolve(AgentMain.LOCK_FILE)
              + "); run one agent per cache directory");
    }
    return lock;
  }

  /** Checks every {@code --control-plane}; a replica listed twice is refused. */
  private static List<URI> controlPlaneUris(List<String> texts) throws BadArgumentException {
    if (texts.isEmpty()) {
      throw new BadArgumentException("--control-plane is required");
    }
    List<URI> uris = new ArrayList<>();
    for (String text : texts) {
      uris.add(controlPlaneUri(text));
    }
    try {
      // The client's own check of the list (the same address twice, after normalization).
      ConfigSyncClient.builder().controlPlanes(uris);
    } catch (IllegalArgumentException e) {
      throw new BadArgumentException("--control-plane: " + e.getMessage(), e);
    }
    return List.copyOf(uris);
  }

  private static URI controlPlaneUri(String text) throws BadArgumentException {
    if (text.contains(",")) {
      throw new BadArgumentException(
          "--control-plane takes one address; repeat the flag for each replica, got: " + text);
    }
    URI uri;
    try {
      uri = new URI(text.trim());
    } catch (URISyntaxException e) {
      throw new BadArgumentException("--control-plane is not a URL: " + e.getMessage(), e);
    }
    String scheme = uri.getScheme();
    if (scheme == null || !scheme.equalsIgnoreCase("wss")) {
      throw new BadArgumentException(
          "--control-plane must be a wss:// URL (the connection is always mutual TLS), got: "
              + text);
    }
    if (uri.getHost() == null) {
      throw new BadArgumentException("--control-plane has no host: " + text);
    }
    try {
      // The client's own check (no query, no fragment); the URI is normalized again by the builder.
      ConfigSyncClient.builder().controlPlane(uri);
    } catch (IllegalArgumentException e) {
      throw new BadArgumentException("--control-plane: " + e.getMessage(), e);
    }
    return uri;
  }

  /** What {@link #setUp()} checked and built. */
  private record Setup(
      List<URI> controlPlanes,
      TlsConfig tls,
      FileSnapshotStore store,
      @Nullable OutputFile output,
      DirectoryLock lock,
      Path incoming,
      @Nullable InetSocketAddress metricsListen) {}
}
