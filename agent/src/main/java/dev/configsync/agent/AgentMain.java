package dev.configsync.agent;

import dev.configsync.cli.CommandLauncher;
import dev.configsync.cli.CommandVersion;
import dev.configsync.cli.StopSignal;
import java.io.PrintStream;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code configsync-agent} command line: a sidecar that keeps a configuration file current for
 * a proxy not written in Java, and reports what happens as JSON lines on stdout.
 *
 * <pre>
 * configsync-agent run --control-plane wss://HOST:PORT --cert FILE --key FILE --ca FILE
 *     --cache-dir DIR [--output FILE] [--on-change CMD] ...
 * configsync-agent load FILE --cache-dir DIR [--force] [--timeout DURATION]
 * configsync-agent hash FILE
 * configsync-agent status --cache-dir DIR
 * configsync-agent license keygen --out DIR
 * configsync-agent license issue --signing-key FILE --customer NAME --license-key KEY
 *     --expires YYYY-MM-DD [--config FILE --out FILE] ...
 * configsync-agent --help | --version
 * </pre>
 *
 * <p>The command line, the event lines and the exit statuses are a stable contract (see {@code
 * docs/agent.md}); other tools rely on them. Logs go to stderr only.
 */
public final class AgentMain {
  /** The command's name, as shown in help and messages. */
  public static final String NAME = "configsync-agent";

  /** Exit status: the agent stopped cleanly (SIGTERM or SIGINT), or a command succeeded. */
  public static final int EXIT_OK = 0;

  /**
   * Exit status: an unexpected failure, such as a node identity that cannot be written; for {@code
   * load}, a configuration that was refused or not answered in time.
   */
  public static final int EXIT_FAILURE = 1;

  /**
   * Exit status: bad arguments (unknown or missing flag, unreadable certificate, key or CA file, a
   * control plane URL that is not {@code wss://}, a bad duration or label, a flag not supported
   * yet); the message on stderr names the problem. Restarting with the same arguments does not
   * help.
   */
  public static final int EXIT_USAGE = 2;

  /**
   * Formerly the exit status of {@code run} when the license expired. No command returns it any
   * more: an agent whose license expires stops serving (it empties its output file) but keeps
   * running, so that the renewed license the control plane sends can reach it; exiting made that
   * impossible (see {@code docs/agent.md}). The value stays reserved.
   *
   * @deprecated never returned; kept so that code naming it still compiles
   */
  @Deprecated public static final int EXIT_LICENSE_EXPIRED = 3;

  /** The lock file in the cache directory that a running {@code run} (or a writing load) holds. */
  static final String LOCK_FILE = "agent.lock";

  /** How {@link #main}, {@link #run} and the tests start the command line. */
  static final CommandLauncher LAUNCHER =
      new CommandLauncher(NAME, AgentMain::commandLine, args -> args);

  private AgentMain() {}

  /** Runs the command line and exits the JVM with its status. */
  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("load")) {
      quietForLoad();
    }
    LAUNCHER.runAndExit(args);
  }

  /**
   * {@code load} without a running agent checks and caches the file with a client of its own that
   * never dials (see {@link LoadCommand}). That client's log lines describe a node that is not
   * there ({@code wss://offline.invalid}, {@code retrying in 3600000 ms}, {@code starts EMPTY}) and
   * repeat a refusal that {@code load} itself reports: they are turned off in a {@code load}
   * process, where the loggers are not created yet, unless {@code -D} says otherwise. {@code load}
   * reports what the operator needs itself: one answer on stdout, a refusal once on stderr.
   */
  private static void quietForLoad() {
    quiet("dev.configsync.SyncLoop", "off");
    quiet("dev.configsync.UsageReporter", "off");
    quiet("dev.configsync.cache.FileSnapshotStore", "warn"); // "created node identity ..."
  }

  private static void quiet(String logger, String level) {
    String property = "org.slf4j.simpleLogger.log." + logger;
    if (System.getProperty(property) == null) {
      System.setProperty(property, level);
    }
  }

  /**
   * Runs the command line with the given streams and returns its exit status, without exiting the
   * JVM. Event lines and command output go to {@code out}; messages to {@code err}. A {@code run}
   * command started this way handles no signals: it runs until the calling thread is interrupted,
   * then stops cleanly and returns {@link #EXIT_OK}.
   *
   * @return the exit status: {@link #EXIT_OK}, {@link #EXIT_FAILURE} or {@link #EXIT_USAGE}
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return LAUNCHER.run(args, out, err, new StopSignal());
  }

  /** Its command line, with every subcommand printing to {@code out} and {@code err}. */
  private static CommandLine commandLine(
      PrintStream out, PrintStream err, StopSignal stop, boolean installSignals) {
    return new CommandLine(new TopCommand())
        .addSubcommand("run", new RunCommand(out, err, stop, installSignals))
        .addSubcommand("load", new LoadCommand(out, err))
        .addSubcommand("hash", new HashCommand(out, err))
        .addSubcommand("status", new StatusCommand(out, err))
        .addSubcommand(
            "license",
            new CommandLine(new LicenseCommand())
                .addSubcommand("keygen", new LicenseCommand.Keygen(out, err))
                .addSubcommand("issue", new LicenseCommand.Issue(out, err)));
  }

  /** The top-level command: only dispatches to its subcommands. */
  @Command(
      name = NAME,
      mixinStandardHelpOptions = true,
      versionProvider = CommandVersion.class,
      usageHelpAutoWidth = true,
      description = {
        "Keeps this node's gateway configuration current from a control plane (Kong hybrid mode"
            + " protocol v1, mutual TLS).",
        "Exit status: 0 clean stop or success, 1 unexpected failure (load: refused), 2 bad"
            + " arguments."
      })
  static final class TopCommand implements Callable<Integer> {
    @Spec @Nullable CommandSpec spec;

    @Override
    public Integer call() {
      CommandSpec s = Objects.requireNonNull(spec, "spec");
      throw new ParameterException(
          s.commandLine(), "a command is required: run, load, hash, status or license");
    }
  }
}
