package dev.configsync.cp.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSyncClient;
import dev.configsync.ConfigSyncException;
import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.CommandLauncher;
import dev.configsync.cli.CommandVersion;
import dev.configsync.cli.Durations;
import dev.configsync.cli.HostPort;
import dev.configsync.cli.StopSignal;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.InvalidConfigurationException;
import dev.configsync.cp.PublishResult;
import dev.configsync.cp.etcd.EtcdConfigStore;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

  /** How long a shutdown hook waits for the control plane to stop, when signals cannot be used. */
  private static final Duration HOOK_WAIT = Duration.ofSeconds(30);

  @Mixin ServerTlsOptions serverTls = new ServerTlsOptions();

  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      defaultValue = DEFAULT_LISTEN,
      converter = HostPort.Converter.class,
      description =
          "Where data planes connect (default ${DEFAULT-VALUE}). Port 0 picks a free one.")
  @Nullable InetSocketAddress listen;

  @Mixin AdminOptions admin = new AdminOptions();

  @Mixin StoreOptions store = new StoreOptions();

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

  @Mixin LimitOptions limits = new LimitOptions();

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

  /** How {@link #main}, {@link #run} and the tests start the command line. */
  static final CommandLauncher LAUNCHER =
      new CommandLauncher(
          NAME,
          (out, err, stop, signals) ->
              new CommandLine(new ControlPlaneMain(out, err, stop, signals)),
          ControlPlaneMain::versionAlone);

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
    LAUNCHER.runAndExit(args);
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
    return LAUNCHER.run(args, out, err, new StopSignal());
  }

  /**
   * "--version" sets the compatibility version and so takes a value; alone, as the last argument,
   * where no value can follow, it prints the program's version as -V does.
   */
  private static String[] versionAlone(String[] args) {
    if (args.length > 0 && args[args.length - 1].equals("--version")) {
      String[] effective = args.clone();
      effective[args.length - 1] = "-V";
      return effective;
    }
    return args;
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
      ControlPlaneAssembly setup;
      try {
        setup = ControlPlaneAssembly.assemble(this);
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

  private int serve(ControlPlaneAssembly setup) {
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
      if (ControlPlaneAssembly.isBindFailure(e)) {
        return failure(setup.bindFailure(e));
      }
      Path dir = store.store;
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
      out.println(setup.readyLine(server));
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

  // ---- values -----------------------------------------------------------------------------------

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
}
