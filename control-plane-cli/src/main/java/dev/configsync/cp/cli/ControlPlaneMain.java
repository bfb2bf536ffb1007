package dev.configsync.cp.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigSyncClient;
import dev.configsync.ConfigSyncException;
import dev.configsync.cache.YamlConfigFormat;
import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.ByteSize;
import dev.configsync.cli.CommandRunner;
import dev.configsync.cli.CommandVersion;
import dev.configsync.cli.DirectoryLock;
import dev.configsync.cli.Durations;
import dev.configsync.cli.HostPort;
import dev.configsync.cli.PemFlags;
import dev.configsync.cli.StopSignal;
import dev.configsync.cp.ConfigStore;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.FileConfigStore;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.InvalidConfigurationException;
import dev.configsync.cp.PublishResult;
import dev.configsync.cp.PublishedConfig;
import dev.configsync.cp.ServerTls;
import dev.configsync.cp.etcd.EtcdConfigStore;
import dev.configsync.internal.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code configsync-cp} command line: a standalone control plane that serves data planes on one
 * mutual-TLS port and offers the admin HTTP API on another, until SIGTERM or SIGINT.
 *
 * <pre>
 * configsync-cp --cert FILE --key FILE [--ca FILE] [--cluster-mode pki|shared]
 *     [--listen HOST:PORT] [--admin-listen HOST:PORT | --no-admin] [--admin-token-file FILE]
 *     [--store DIR | --etcd-endpoint URL... [--etcd-ca FILE [--etcd-cert FILE --etcd-key FILE]]
 *      [--replica-name NAME] [--etcd-prefix PREFIX] [--etcd-lease-ttl DURATION]
 *      [--etcd-request-timeout DURATION] [--etcd-unavailable-after DURATION]
 *      [--etcd-flush-interval DURATION]]
 *     [--config FILE] [--heartbeat DURATION] [--version X.Y.Z]
 *     [--capability NAME=VERSION]... [--forget-after DURATION] [--max-payload BYTES]
 * </pre>
 *
 * <p>With {@code --etcd-endpoint} it runs as one replica of a highly available control plane: the
 * configuration, the fleet and the usage figures are kept in etcd ({@link EtcdConfigStore}), shared
 * with the other replicas given the same endpoints and prefix.
 *
 * <p>When it is ready it prints one line on stdout (addresses with their actual ports, trust mode,
 * admin URL, store, configuration hash); logs go to stderr. Exit status: {@link #EXIT_OK} after a
 * clean stop, {@link #EXIT_USAGE} for bad arguments or unusable files, {@link #EXIT_FAILURE} for
 * anything else (such as a port already in use). See {@code docs/control-plane-cli.md}.
 */
@Command(
    name = ControlPlaneMain.NAME,
    sortOptions = false,
    sortSynopsis = false,
    usageHelpAutoWidth = true,
    header = ControlPlaneMain.NAME + " " + ConfigSyncClient.VERSION,
    versionProvider = CommandVersion.class,
    description = {
      "Runs a configsync control plane: data planes connect over mutual TLS (Kong hybrid mode"
          + " protocol v1) and get every configuration published through the admin HTTP API"
          + " (PUT /config, JSON or YAML) at once. Runs until SIGTERM or SIGINT.",
      "Prints one line on stdout when ready; logs go to stderr.",
      "Exit status: 0 clean stop, 1 unexpected failure (e.g. a port in use), 2 bad arguments or"
          + " unusable files."
    })
public final class ControlPlaneMain implements Callable<Integer> {
  /** The command's name, as shown in help and messages. */
  public static final String NAME = "configsync-cp";

  /** Exit status: stopped cleanly on SIGTERM or SIGINT, or {@code --help}. */
  public static final int EXIT_OK = 0;

  /**
   * Exit status: an unexpected failure, such as a port that cannot be bound (the message names it)
   * or a configuration the store could not save.
   */
  public static final int EXIT_FAILURE = 1;

  /**
   * Exit status: bad arguments (unknown, missing or contradictory flags, bad values) or unusable
   * files (certificates, key, CA, token, {@code --config}, {@code --store}); the one-line message
   * on stderr names the flag and file. Restarting with the same arguments does not help.
   */
  public static final int EXIT_USAGE = 2;

  /** The data plane address when {@code --listen} is not given. */
  static final String DEFAULT_LISTEN = "0.0.0.0:" + ControlPlaneServer.DEFAULT_PORT;

  /** The admin API address when neither {@code --admin-listen} nor {@code --no-admin} is given. */
  static final String DEFAULT_ADMIN_LISTEN = "127.0.0.1:8001";

  /** The lock file in a {@code --store} directory, held while a control plane uses it. */
  static final String LOCK_FILE = "configsync-cp.lock";

  /** How long a shutdown hook waits for the control plane to stop, when signals cannot be used. */
  private static final Duration HOOK_WAIT = Duration.ofSeconds(30);

  @Option(
      names = "--cert",
      required = true,
      paramLabel = "FILE",
      description =
          "The control plane's certificate chain, PEM, leaf first. In shared mode, the one"
              + " certificate every node also uses.")
  @Nullable Path cert;

  @Option(
      names = "--key",
      required = true,
      paramLabel = "FILE",
      description = "The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1), unencrypted.")
  @Nullable Path key;

  @Option(
      names = "--ca",
      paramLabel = "FILE",
      description =
          "The CA certificate(s), PEM, that issue data plane certificates. Required in pki mode,"
              + " refused in shared mode.")
  @Nullable Path ca;

  @Option(
      names = "--cluster-mode",
      paramLabel = "pki|shared",
      defaultValue = "pki",
      description =
          "pki (default): nodes present certificates issued by --ca. shared: nodes present this"
              + " control plane's own certificate (--cert/--key).")
  String clusterMode = "pki";

  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      defaultValue = DEFAULT_LISTEN,
      converter = HostPort.Converter.class,
      description =
          "Where data planes connect (default ${DEFAULT-VALUE}). Port 0 picks a free one.")
  @Nullable InetSocketAddress listen;

  @Option(
      names = "--admin-listen",
      paramLabel = "HOST:PORT",
      converter = HostPort.Converter.class,
      description =
          "Where the admin HTTP API listens (default "
              + DEFAULT_ADMIN_LISTEN
              + "). Plain HTTP: keep it on loopback or protect it with --admin-token-file.")
  @Nullable InetSocketAddress adminListen;

  @Option(names = "--no-admin", description = "No admin API.")
  boolean noAdmin;

  @Option(
      names = "--admin-token-file",
      paramLabel = "FILE",
      description =
          "A file holding the admin API's bearer token (at least 16 characters, no whitespace);"
              + " every request must send 'Authorization: Bearer TOKEN'. Keep it mode 0600.")
  @Nullable Path adminTokenFile;

  @Option(
      names = "--store",
      paramLabel = "DIR",
      description =
          "Keep the published configuration in DIR/config.json.gz, so that it survives a restart."
              + " Without it (and without --etcd-endpoint) the configuration is kept in memory"
              + " only.")
  @Nullable Path store;

  @Option(
      names = "--etcd-endpoint",
      paramLabel = "URL",
      converter = EtcdUrl.Converter.class,
      description =
          "Run as one replica of a highly available control plane: keep the configuration, the"
              + " fleet and the usage figures in the etcd cluster at URL (a member's client URL,"
              + " http://host:2379 or https://). Repeatable: list every member. Replaces --store.")
  List<URI> etcdEndpoints = new ArrayList<>();

  @Option(
      names = "--etcd-ca",
      paramLabel = "FILE",
      description =
          "The CA certificate(s), PEM, trusted for etcd's certificates (https:// endpoints);"
              + " without it the JDK's trust store is used.")
  @Nullable Path etcdCa;

  @Option(
      names = "--etcd-cert",
      paramLabel = "FILE",
      description =
          "This replica's client certificate chain for etcd, PEM (etcd's --client-cert-auth);"
              + " needs --etcd-key and --etcd-ca.")
  @Nullable Path etcdCert;

  @Option(
      names = "--etcd-key",
      paramLabel = "FILE",
      description = "The private key of --etcd-cert, PEM, unencrypted.")
  @Nullable Path etcdKey;

  @Option(
      names = "--replica-name",
      paramLabel = "NAME",
      description =
          "This replica's name in etcd, unique among the replicas (1 to 128 letters, digits or"
              + " . _ : -); default: this machine's host name. Give one to each replica that"
              + " shares a machine.")
  @Nullable String replicaName;

  @Option(
      names = "--etcd-prefix",
      paramLabel = "PREFIX",
      description =
          "The etcd key prefix, ending with '/' (default /configsync/); one per control plane"
              + " sharing the etcd cluster.")
  @Nullable String etcdPrefix;

  @Option(
      names = "--etcd-lease-ttl",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long a crashed replica's data planes stay listed (default 10s, at least 2s).")
  @Nullable Duration etcdLeaseTtl;

  @Option(
      names = "--etcd-request-timeout",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "The longest one etcd call may take, over every member tried (default 2s).")
  @Nullable Duration etcdRequestTimeout;

  @Option(
      names = "--etcd-unavailable-after",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long etcd may be unreachable before this replica reports itself degraded and"
              + " refuses publishes (default 5s).")
  @Nullable Duration etcdUnavailableAfter;

  @Option(
      names = "--etcd-flush-interval",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "At most one round of fleet and usage writes to etcd per interval (default 1s).")
  @Nullable Duration etcdFlushInterval;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "A configuration (JSON, or YAML when named .yml/.yaml) published at start. Nothing"
              + " changes if the store already holds one with the same hash.")
  @Nullable Path config;

  @Option(
      names = "--heartbeat",
      paramLabel = "DURATION",
      defaultValue = "30s",
      converter = Durations.Converter.class,
      description =
          "The data planes' ping interval (default ${DEFAULT-VALUE}); a node silent for 1.5x this"
              + " is dropped.")
  Duration heartbeat = ControlPlaneServer.DEFAULT_HEARTBEAT;

  @Option(
      names = "--version",
      paramLabel = "X.Y.Z",
      defaultValue = ConfigSyncClient.VERSION,
      description =
          "The version nodes are checked against (default ${DEFAULT-VALUE}): a node of another"
              + " major version, or a newer minor one, is sent nothing.")
  String version = ConfigSyncClient.VERSION;

  @Option(
      names = "--capability",
      paramLabel = "NAME=VERSION",
      converter = Capability.Converter.class,
      description =
          "A plugin's version on this control plane: nodes that declare it with another major"
              + " version do not get configurations that use it. Repeatable.")
  List<Capability> capabilities = new ArrayList<>();

  @Option(
      names = "--forget-after",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "How long a disconnected node stays listed (default 336h, i.e. 14 days).")
  @Nullable Duration forgetAfter;

  @Option(
      names = "--max-payload",
      paramLabel = "BYTES",
      converter = ByteSize.Converter.class,
      description =
          "The largest compressed configuration published (default 16MiB, what nodes accept by"
              + " default); a whole number, optionally with KiB, MiB or GiB.")
  @Nullable Long maxPayload;

  @Option(
      names = "--max-data-planes",
      paramLabel = "N",
      description = "The most data planes the registry lists, connected or not (default 5000).")
  @Nullable Integer maxDataPlanes;

  @Option(
      names = "--max-registry-bytes",
      paramLabel = "BYTES",
      converter = ByteSize.Converter.class,
      description = "The registry's memory budget (default 64MiB).")
  @Nullable Long maxRegistryBytes;

  @Option(
      names = "--max-node-ids-per-certificate",
      paramLabel = "N",
      description = "The most node ids one client certificate may hold (default 0: no cap).")
  @Nullable Integer maxNodeIdsPerCertificate;

  @Option(
      names = "--max-node-labels",
      paramLabel = "N",
      description = "The most labels a node may declare (default 64).")
  @Nullable Integer maxNodeLabels;

  @Option(
      names = "--max-node-plugins",
      paramLabel = "N",
      description = "The most plugins a node may declare (default 256).")
  @Nullable Integer maxNodePlugins;

  @Option(
      names = "--max-admin-connections",
      paramLabel = "N",
      description = "The most admin API connections open at once; one more gets 503 (default 64).")
  @Nullable Integer maxAdminConnections;

  @Option(
      names = "--admin-head-timeout",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long an admin client may take to send a request head; 408 after (default 10s).")
  @Nullable Duration adminHeadTimeout;

  @Option(
      names = "--admin-body-timeout",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long an admin client may take to send a request body; 408 after (default 60s).")
  @Nullable Duration adminBodyTimeout;

  @Option(
      names = "-V",
      versionHelp = true,
      description = "Print the program's name and version and exit; so does --version alone.")
  boolean versionHelp;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help and exit.")
  boolean help;

  private final PrintStream out;
  private final PrintStream err;
  private final StopSignal stop;
  private final boolean installSignals;

  /** A command printing to {@code System.out} and {@code System.err}, for {@link CommandLine}. */
  public ControlPlaneMain() {
    this(System.out, System.err, new StopSignal(), false);
  }

  ControlPlaneMain(PrintStream out, PrintStream err, StopSignal stop, boolean installSignals) {
    this.out = out;
    this.err = err;
    this.stop = stop;
    this.installSignals = installSignals;
  }

  /** Runs the command line and exits the JVM with its status. */
  public static void main(String[] args) {
    configureLogging();
    System.exit(execute(args, System.out, System.err, new StopSignal(), true));
  }

  /**
   * Runs the command line with the given streams and returns its exit status, without exiting the
   * JVM. The ready line goes to {@code out}, messages to {@code err} (logs go to the logging
   * backend). Started this way, the command handles no signals: it runs until the calling thread is
   * interrupted, then stops cleanly and returns {@link #EXIT_OK}.
   *
   * @return {@link #EXIT_OK}, {@link #EXIT_FAILURE} or {@link #EXIT_USAGE}
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return execute(args, out, err, new StopSignal(), false);
  }

  /** Same as {@link #run(String[], PrintStream, PrintStream)}, stoppable through {@code stop}. */
  static int run(String[] args, PrintStream out, PrintStream err, StopSignal stop) {
    return execute(args, out, err, stop, false);
  }

  private static int execute(
      String[] args, PrintStream out, PrintStream err, StopSignal stop, boolean installSignals) {
    CommandLine cli = new CommandLine(new ControlPlaneMain(out, err, stop, installSignals));
    // "--version" sets the compatibility version and so takes a value; alone, as the last
    // argument, where no value can follow, it prints the program's version as -V does.
    String[] effective = args;
    if (args.length > 0 && args[args.length - 1].equals("--version")) {
      effective = args.clone();
      effective[args.length - 1] = "-V";
    }
    return CommandRunner.execute(NAME, cli, effective, out, err, stop);
  }

  /**
   * slf4j-simple's settings for the command, unless given as system properties: stderr, INFO, ISO
   * time stamps. Set before the first logger exists (slf4j-simple reads them once); the library jar
   * carries no {@code simplelogger.properties}, so embedders' logging is left alone.
   */
  private static void configureLogging() {
    setIfAbsent("org.slf4j.simpleLogger.logFile", "System.err");
    setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "info");
    setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
    setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
    setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
  }

  private static void setIfAbsent(String property, String value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, value);
    }
  }

  /** Not a static field: {@link #main} configures the logging backend before the first logger. */
  private static Logger log() {
    return LoggerFactory.getLogger(ControlPlaneMain.class);
  }

  // ---- the command ------------------------------------------------------------------------------

  @Override
  public Integer call() {
    try {
      Setup setup;
      try {
        setup = setUp();
      } catch (BadArgumentException e) {
        return usage(e.getMessage());
      }
      try {
        return serve(setup);
      } finally {
        setup.release();
      }
    } finally {
      stop.markFinished();
    }
  }

  private int serve(Setup setup) {
    if (installSignals) {
      stop.handleSignals(
          NAME,
          "the control plane",
          HOOK_WAIT); // before binding: a SIGTERM while starting stops it cleanly too
    }
    ControlPlaneServer server;
    try {
      server = setup.builder().start();
    } catch (IOException e) {
      if (isBindFailure(e)) {
        return failure(bindFailure(setup, e));
      }
      Path dir = store;
      // Besides binding, start() fails only on a stored configuration it cannot use.
      return dir != null
          ? usage("--store " + dir + ": " + e.getMessage())
          : failure("cannot start: " + e.getMessage());
    } catch (RuntimeException e) {
      log().error("the control plane cannot start", e);
      return failure("cannot start: " + e);
    }
    try {
      JsonNode table = setup.config();
      if (table != null) {
        Integer refused = publishConfigFile(server, table);
        if (refused != null) {
          return refused;
        }
      }
      out.println(readyLine(server, setup));
      out.flush();
      boolean interrupted = false;
      try {
        stop.awaitStopRequest();
      } catch (InterruptedException e) {
        interrupted = true; // stop all the same, and cleanly: the flag is restored afterwards
      }
      log().info("{} stopping", NAME);
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      return EXIT_OK;
    } finally {
      server.close();
    }
  }

  /** Publishes {@code --config}; returns null when done, else the exit status. */
  private @Nullable Integer publishConfigFile(ControlPlaneServer server, JsonNode table) {
    Path file = Objects.requireNonNull(config, "--config");
    try {
      PublishResult result = server.publish(table);
      if (result.changed()) {
        log().info("Published --config {}: configuration {}", file, result.hash());
      } else {
        log()
            .info(
                "--config {} is the configuration already in force ({}); nothing changed",
                file,
                result.hash());
      }
      return null;
    } catch (InvalidConfigurationException e) {
      return usage("--config " + file + ": " + e.getMessage());
    } catch (ConfigSyncException e) {
      return failure("--config " + file + " could not be stored: " + e.getMessage());
    }
  }

  private int usage(@Nullable String message) {
    err.println(NAME + ": " + oneLine(String.valueOf(message)));
    err.flush();
    return EXIT_USAGE;
  }

  private int failure(String message) {
    err.println(NAME + ": " + oneLine(message));
    err.flush();
    return EXIT_FAILURE;
  }

  /**
   * Folds a message onto one line. YAML parser messages span several, with an excerpt of the file
   * and a caret under the problem; the excerpt and caret are dropped (the message already has the
   * line and column), the rest joined with "; ".
   */
  static String oneLine(String message) {
    List<String> parts = new ArrayList<>();
    for (String line : message.lines().toList()) {
      String t = line.strip();
      if (t.isEmpty()
          || line.startsWith("    ")
          || t.chars().allMatch(c -> c == '^')
          || t.startsWith("in 'reader'")) {
        continue;
      }
      parts.add(t);
    }
    return parts.isEmpty() ? message.strip() : String.join("; ", parts);
  }

  /** The line printed on stdout once the control plane accepts connections. */
  private static String readyLine(ControlPlaneServer server, Setup setup) {
    StringBuilder line = new StringBuilder(NAME).append(" ready: data planes on ");
    line.append(HostPort.format(server.address()))
        .append(" (")
        .append(server.tls().mode().name().toLowerCase(Locale.ROOT))
        .append(" mode), ");
    server
        .adminAddress()
        .ifPresentOrElse(
            a ->
                line.append("admin API on http://")
                    .append(HostPort.format(a))
                    .append(setup.token() == null ? " (no token)" : " (bearer token required)"),
            () -> line.append("admin API off"));
    line.append(", store ").append(setup.store());
    line.append(", ")
        .append(
            server
                .currentConfig()
                .map(PublishedConfig::hash)
                .map(h -> "configuration " + h)
                .orElse("no configuration yet"));
    return line.toString();
  }

  // ---- checking the flags ---------------------------------------------------------------------

  /** Everything the flags describe, checked and opened; or a message naming the flag at fault. */
  private Setup setUp() throws BadArgumentException {
    ServerTls.Mode mode = mode();
    InetSocketAddress admin = adminAddress();
    boolean etcd = checkStoreFlags();
    ServerTls tls = tls(mode);
    String token = token();
    ControlPlaneServer.Builder builder = ControlPlaneServer.builder().tls(tls);
    InetSocketAddress dataPlanes = Objects.requireNonNull(listen, "--listen");
    builder.listen(dataPlanes);
    if (admin != null) {
      builder.admin(admin);
      if (token != null) {
        setting("--admin-token-file", () -> builder.adminToken(token));
      } else if (!admin.getAddress().isLoopbackAddress()) {
        log()
            .warn(
                "The admin API listens on {} without a token: anyone who reaches it can publish."
                    + " Use --admin-token-file, or keep it on 127.0.0.1",
                HostPort.format(admin));
      }
    }
    setting("--heartbeat", () -> builder.heartbeatInterval(heartbeat));
    Duration forget = forgetAfter;
    if (forget != null) {
      setting("--forget-after", () -> builder.forgetAfter(forget));
    }
    setting("--version", () -> builder.version(version));
    for (Capability c : capabilities) {
      setting("--capability", () -> builder.capability(c.name(), c.version()));
    }
    long payload = maxPayload != null ? maxPayload : ConfigSyncClient.DEFAULT_MAX_PAYLOAD_BYTES;
    setting("--max-payload", () -> builder.maxPayloadBytes(payload));
    settingIfGiven("--max-data-planes", maxDataPlanes, builder::maxDataPlanes);
    settingIfGiven("--max-registry-bytes", maxRegistryBytes, builder::maxRegistryBytes);
    settingIfGiven(
        "--max-node-ids-per-certificate",
        maxNodeIdsPerCertificate,
        builder::maxNodeIdsPerCertificate);
    settingIfGiven("--max-node-labels", maxNodeLabels, builder::maxNodeLabels);
    settingIfGiven("--max-node-plugins", maxNodePlugins, builder::maxNodePlugins);
    settingIfGiven("--max-admin-connections", maxAdminConnections, builder::maxAdminConnections);
    settingIfGiven("--admin-head-timeout", adminHeadTimeout, builder::adminRequestHeadTimeout);
    settingIfGiven("--admin-body-timeout", adminBodyTimeout, builder::adminRequestBodyTimeout);
    JsonNode table = configFile();

    if (etcd) {
      EtcdConfigStore shared = etcdStore();
      builder.configStore(shared).fleetDirectory(shared);
      return new Setup(builder, dataPlanes, admin, table, token, null, null, shared.describe());
    }
    Path dir = store;
    if (dir == null) {
      log()
          .warn(
              "No --store: the configuration is kept in memory and is lost when the control plane"
                  + " restarts (nodes keep running theirs, but get nothing new until a publish)");
      builder.configStore(new InMemoryConfigStore());
      return new Setup(
          builder, dataPlanes, admin, table, token, null, null, "in memory (lost on restart)");
    }
    DirectoryLock lock;
    try {
      lock = tryLockStore(dir);
    } catch (IOException e) {
      throw new BadArgumentException("--store " + dir + " cannot be used: " + e.getMessage(), e);
    }
    if (lock == null) {
      throw new BadArgumentException(
          "--store "
              + dir
              + " is in use by another "
              + NAME
              + " (it holds "
              + dir.resolve(LOCK_FILE)
              + "); run one control plane per store directory");
    }
    try {
      ConfigStore files = FileConfigStore.open(dir, payload);
      builder.configStore(files);
      return new Setup(
          builder, dataPlanes, admin, table, token, dir, lock, dir.toAbsolutePath().toString());
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw new BadArgumentException("--store " + dir + " cannot be used: " + e.getMessage(), e);
    }
  }

  /** Creates {@code dir} if missing and locks it; null when another holds it. */
  static @Nullable DirectoryLock tryLockStore(Path dir) throws IOException {
    DirectoryLock.createDirectory(dir);
    return DirectoryLock.tryAcquire(dir, LOCK_FILE);
  }

  /**
   * Checks that the store flags go together, before any file is read; returns whether the store is
   * etcd.
   */
  private boolean checkStoreFlags() throws BadArgumentException {
    if (etcdEndpoints.isEmpty()) {
      String etcdOnly =
          etcdCa != null
              ? "--etcd-ca"
              : etcdCert != null
                  ? "--etcd-cert"
                  : etcdKey != null
                      ? "--etcd-key"
                      : replicaName != null
                          ? "--replica-name"
                          : etcdPrefix != null
                              ? "--etcd-prefix"
                              : etcdLeaseTtl != null
                                  ? "--etcd-lease-ttl"
                                  : etcdRequestTimeout != null
                                      ? "--etcd-request-timeout"
                                      : etcdUnavailableAfter != null
                                          ? "--etcd-unavailable-after"
                                          : etcdFlushInterval != null
                                              ? "--etcd-flush-interval"
                                              : null;
      if (etcdOnly != null) {
        throw new BadArgumentException(
            etcdOnly
                + " is for a replica on etcd: add --etcd-endpoint URL (once per etcd member), or"
                + " remove "
                + etcdOnly);
      }
      return false;
    }
    if (store != null) {
      throw new BadArgumentException(
          "--store and --etcd-endpoint contradict each other: with --etcd-endpoint the"
              + " configuration is kept in etcd, shared by every replica; remove --store");
    }
    if (etcdCert != null && etcdKey == null) {
      throw new BadArgumentException(
          "--etcd-cert needs --etcd-key FILE, the private key of that certificate");
    }
    if (etcdKey != null && etcdCert == null) {
      throw new BadArgumentException(
          "--etcd-key needs --etcd-cert FILE, the client certificate it belongs to");
    }
    if (etcdCert != null && etcdCa == null) {
      throw new BadArgumentException(
          "--etcd-cert needs --etcd-ca FILE, the CA that issued etcd's server certificates (etcd's"
              + " --trusted-ca-file)");
    }
    boolean https = etcdEndpoints.stream().anyMatch(u -> "https".equals(u.getScheme()));
    boolean http = etcdEndpoints.stream().anyMatch(u -> "http".equals(u.getScheme()));
    if (https && http) {
      throw new BadArgumentException(
          "--etcd-endpoint: give every member's URL with the same scheme, all http:// or all"
              + " https://, got "
              + etcdEndpoints);
    }
    if (http && etcdCa != null) {
      throw new BadArgumentException(
          "--etcd-ca is for https:// endpoints, but --etcd-endpoint "
              + etcdEndpoints.get(0)
              + " is http://: use etcd's https:// client URLs, or remove --etcd-ca"
              + (etcdCert != null ? ", --etcd-cert and --etcd-key" : ""));
    }
    return true;
  }

  /** The etcd store the flags describe; contacts etcd only when the server loads from it. */
  private EtcdConfigStore etcdStore() throws BadArgumentException {
    EtcdConfigStore.Builder b = EtcdConfigStore.builder();
    setting("--etcd-endpoint", () -> b.endpoints(etcdEndpoints));
    settingIfGiven("--replica-name", replicaName, b::replicaName);
    settingIfGiven("--etcd-prefix", etcdPrefix, b::prefix);
    settingIfGiven("--etcd-lease-ttl", etcdLeaseTtl, b::leaseTtl);
    settingIfGiven("--etcd-request-timeout", etcdRequestTimeout, b::requestTimeout);
    settingIfGiven("--etcd-unavailable-after", etcdUnavailableAfter, b::unavailableAfter);
    settingIfGiven("--etcd-flush-interval", etcdFlushInterval, b::flushInterval);
    Path caFile = etcdCa;
    if (caFile != null) {
      Path certFile = etcdCert;
      Path keyFile = etcdKey;
      // Each file checked in its own role first, so that the message names the flag at fault.
      PemFlags.certificates("--etcd-ca", caFile);
      if (certFile != null && keyFile != null) {
        PemFlags.certificates("--etcd-cert", certFile);
        PemFlags.privateKey("--etcd-key", keyFile, null);
        setting("--etcd-cert/--etcd-key", () -> b.tls(caFile, certFile, keyFile));
      } else {
        setting("--etcd-ca", () -> b.tls(caFile));
      }
    }
    try {
      return b.build();
    } catch (IllegalStateException e) {
      throw new BadArgumentException("--etcd-endpoint: " + e.getMessage(), e);
    }
  }

  private ServerTls.Mode mode() throws BadArgumentException {
    String mode = clusterMode.trim().toLowerCase(Locale.ROOT);
    switch (mode) {
      case "pki" -> {
        if (ca == null) {
          throw new BadArgumentException(
              "--cluster-mode pki (the default) needs --ca FILE, the CA that issues the data"
                  + " planes' certificates; for one certificate shared by the control plane and"
                  + " every node, use --cluster-mode shared");
        }
        return ServerTls.Mode.PKI;
      }
      case "shared" -> {
        if (ca != null) {
          throw new BadArgumentException(
              "--ca is not used with --cluster-mode shared (every node presents this control"
                  + " plane's own certificate); remove --ca, or use --cluster-mode pki");
        }
        return ServerTls.Mode.SHARED;
      }
      default ->
          throw new BadArgumentException(
              "--cluster-mode must be pki or shared, got: " + clusterMode);
    }
  }

  private @Nullable InetSocketAddress adminAddress() throws BadArgumentException {
    if (noAdmin) {
      if (adminListen != null) {
        throw new BadArgumentException("--no-admin and --admin-listen contradict each other");
      }
      if (adminTokenFile != null) {
        throw new BadArgumentException(
            "--admin-token-file is for the admin API, which --no-admin turns off");
      }
      return null;
    }
    InetSocketAddress admin = adminListen;
    return admin != null ? admin : HostPort.parse(DEFAULT_ADMIN_LISTEN);
  }

  private ServerTls tls(ServerTls.Mode mode) throws BadArgumentException {
    Path certFile = Objects.requireNonNull(cert, "--cert");
    Path keyFile = Objects.requireNonNull(key, "--key");
    Path caFile = ca;
    // Each file checked in its own role first, so that a refusal names the flag whose file is
    // wrong: messages name files, and --cert and --key may name the same one (a combined PEM).
    PemFlags.certKeyAndCa(certFile, keyFile, caFile, null);
    try {
      return mode == ServerTls.Mode.SHARED
          ? ServerTls.shared(certFile, keyFile)
          : ServerTls.pki(certFile, keyFile, Objects.requireNonNull(caFile, "--ca"));
    } catch (IllegalArgumentException e) {
      // Each file is usable on its own: the key does not match the certificate, or the pair
      // cannot make a TLS context.
      throw new BadArgumentException("--cert/--key: " + e.getMessage(), e);
    }
  }

  /** Reads {@code --admin-token-file}; warns when others may read it. */
  private @Nullable String token() throws BadArgumentException {
    Path file = adminTokenFile;
    if (file == null) {
      return null;
    }
    String token;
    try {
      if (Files.size(file) > 4096) {
        throw new BadArgumentException(
            "--admin-token-file " + file + " is larger than 4096 bytes; it should hold one token");
      }
      token = Files.readString(file).strip();
    } catch (NoSuchFileException e) {
      throw new BadArgumentException("--admin-token-file " + file + ": no such file", e);
    } catch (IOException | RuntimeException e) {
      throw new BadArgumentException(
          "--admin-token-file " + file + " cannot be read: " + e.getMessage(), e);
    }
    if (token.length() < 16 || token.chars().anyMatch(Character::isWhitespace)) {
      throw new BadArgumentException(
          "--admin-token-file "
              + file
              + " must hold one token of at least 16 characters without whitespace (for example"
              + " the output of 'openssl rand -hex 32')");
    }
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
      Set<PosixFilePermission> others =
          EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ);
      others.retainAll(permissions);
      if (!others.isEmpty()) {
        log()
            .warn(
                "--admin-token-file {} can be read by {} (mode {}); 'chmod 600' it",
                file,
                others.contains(PosixFilePermission.OTHERS_READ) ? "everyone" : "its group",
                PosixFilePermissions.toString(permissions));
      }
    } catch (UnsupportedOperationException | IOException e) {
      // Not a POSIX file system: nothing to check.
    }
    return token;
  }

  /** Reads and checks {@code --config} before anything is bound, so that a bad file exits 2. */
  private @Nullable JsonNode configFile() throws BadArgumentException {
    Path file = config;
    if (file == null) {
      return null;
    }
    byte[] bytes;
    try {
      if (!Files.isRegularFile(file)) {
        throw new BadArgumentException("--config " + file + ": no such file");
      }
      long size = Files.size(file);
      if (size > ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES) {
        throw new BadArgumentException(
            "--config "
                + file
                + " has "
                + size
                + " bytes; at most "
                + ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES
                + " are read");
      }
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new BadArgumentException("--config " + file + " cannot be read: " + e.getMessage(), e);
    }
    if (bytes.length >= 2 && bytes[0] == (byte) 0x1f && bytes[1] == (byte) 0x8b) {
      throw new BadArgumentException(
          "--config "
              + file
              + " is gzip (a config.json.gz?); give JSON or YAML, or copy the file into the"
              + " --store directory as config.json.gz");
    }
    String name = String.valueOf(file.getFileName()).toLowerCase(Locale.ROOT);
    JsonNode table;
    if (name.endsWith(".yml") || name.endsWith(".yaml")) {
      try {
        table =
            new YamlConfigFormat().read(file, bytes, ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES);
      } catch (ConfigFileException e) {
        throw new BadArgumentException("--config: not valid YAML: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new BadArgumentException("--config " + file + ": " + e.getMessage(), e);
      }
    } else {
      try {
        table = Json.readFrozen(bytes);
      } catch (JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        throw new BadArgumentException(
            "--config "
                + file
                + (at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr())
                + ": not valid JSON: "
                + e.getOriginalMessage(),
            e);
      } catch (IOException e) {
        throw new BadArgumentException(
            "--config " + file + ": not valid JSON: " + e.getMessage(), e);
      }
    }
    if (table == null || !table.isObject()) {
      throw new BadArgumentException(
          "--config "
              + file
              + " must hold an object (a declarative configuration), found "
              + (table == null
                  ? "nothing"
                  : table.getNodeType().toString().toLowerCase(Locale.ROOT)));
    }
    return table;
  }

  /** Applies one builder setting, naming {@code flag} when the builder refuses the value. */
  /** As {@link #setting}, for a flag that was given; one left out keeps the builder's default. */
  private static <T> void settingIfGiven(
      String flag, @Nullable T value, java.util.function.Consumer<T> apply)
      throws BadArgumentException {
    if (value != null) {
      setting(flag, () -> apply.accept(value));
    }
  }

  private static void setting(String flag, Runnable apply) throws BadArgumentException {
    try {
      apply.run();
    } catch (IllegalArgumentException e) {
      throw new BadArgumentException(flag + ": " + e.getMessage(), e);
    }
  }

  // ---- binding failures -------------------------------------------------------------------------

  private static boolean isBindFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Names the port that could not be bound. The server's exception does not say which of its two
   * ports failed, so each configured address is tried again, briefly, now that the server has let
   * go of both.
   */
  private static String bindFailure(Setup setup, Exception e) {
    String found = probe("--listen", setup.listen());
    InetSocketAddress admin = setup.admin();
    if (found == null && admin != null) {
      found = probe("--admin-listen", admin);
    }
    return found != null ? found : "cannot listen: " + e.getMessage();
  }

  private static @Nullable String probe(String flag, InetSocketAddress address) {
    if (address.getPort() == 0) {
      return null;
    }
    try (ServerSocketChannel channel = ServerSocketChannel.open()) {
      channel.bind(address);
      return null;
    } catch (IOException e) {
      String reason = String.valueOf(e.getMessage());
      String hint =
          reason.contains("in use")
              ? "; another process listens on port " + address.getPort()
              : address.getPort() < 1024 && reason.toLowerCase(Locale.ROOT).contains("permission")
                  ? "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
                  : "";
      return "cannot listen on " + HostPort.format(address) + " (" + flag + "): " + reason + hint;
    }
  }

  // ---- values -----------------------------------------------------------------------------------

  /** What {@link #setUp()} checked and opened; {@link #release()} gives the store lock back. */
  private record Setup(
      ControlPlaneServer.Builder builder,
      InetSocketAddress listen,
      @Nullable InetSocketAddress admin,
      @Nullable JsonNode config,
      @Nullable String token,
      @Nullable Path storeDirectory,
      @Nullable DirectoryLock lock,
      String store) {

    void release() {
      DirectoryLock l = lock;
      if (l != null) {
        l.close();
      }
    }

    /** Never prints the token. */
    @Override
    public String toString() {
      return "Setup[store=" + store + "]";
    }
  }

  /** A {@code --capability NAME=VERSION}. */
  record Capability(String name, String version) {
    /** Parses {@code NAME=VERSION}; picocli names the option in its message. */
    static final class Converter implements CommandLine.ITypeConverter<Capability> {
      @Override
      public Capability convert(String text) {
        int eq = text.indexOf('=');
        if (eq <= 0 || text.substring(0, eq).isBlank() || eq == text.length() - 1) {
          throw new CommandLine.TypeConversionException(
              "'" + text + "' is not NAME=VERSION (for example rate-limiting=3.9.0)");
        }
        return new Capability(text.substring(0, eq).strip(), text.substring(eq + 1).strip());
      }
    }
  }

  /** {@code --etcd-endpoint URL}: an etcd member's client URL. */
  static final class EtcdUrl {
    private EtcdUrl() {}

    /** The picocli converter; picocli names the option in its message. */
    static final class Converter implements CommandLine.ITypeConverter<URI> {
      @Override
      public URI convert(String value) {
        URI uri;
        try {
          uri = new URI(value.strip());
        } catch (URISyntaxException e) {
          throw new CommandLine.TypeConversionException(
              "'" + value + "' is not a URL: " + e.getReason());
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
            || uri.getHost() == null
            || uri.getPort() == -1
            || !(uri.getRawPath() == null
                || uri.getRawPath().isEmpty()
                || uri.getRawPath().equals("/"))
            || uri.getRawQuery() != null
            || uri.getRawFragment() != null
            || uri.getRawUserInfo() != null) {
          throw new CommandLine.TypeConversionException(
              "'"
                  + value
                  + "' is not an etcd client URL such as http://10.0.0.1:2379 or"
                  + " https://etcd-1:2379 (scheme, host and port, nothing else)");
        }
        return uri;
      }
    }
  }
}
