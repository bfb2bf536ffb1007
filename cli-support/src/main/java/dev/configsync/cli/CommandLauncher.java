package dev.configsync.cli;

import java.io.PrintStream;
import java.util.function.UnaryOperator;
import picocli.CommandLine;

/**
 * How a configsync command is started: from {@code main} (signals handled, the JVM exits with the
 * status) or in-process (no signals, stoppable through a {@link StopSignal}, the status returned).
 * Either way the command line is built afresh for the streams given and run by {@link
 * CommandRunner}. Immutable; each run builds its own command objects, so runs may overlap.
 */
public final class CommandLauncher {
  /** Builds a command line whose commands print to the given streams. */
  @FunctionalInterface
  public interface CommandLines {
    /**
     * Builds the command line for one run.
     *
     * @param out the command's stdout
     * @param err the command's stderr
     * @param stop how a running command is asked to stop
     * @param installSignals whether the command handles SIGTERM and SIGINT (only when started by
     *     {@code main}: handlers belong to the whole JVM)
     * @return the command line
     */
    CommandLine create(PrintStream out, PrintStream err, StopSignal stop, boolean installSignals);
  }

  private final String name;
  private final CommandLines commandLines;
  private final UnaryOperator<String[]> arguments;

  /**
   * A launcher for the command {@code name}.
   *
   * @param name the command's name, the first word of every message on stderr
   * @param commandLines builds the command line for each run
   * @param arguments rewrites the arguments before picocli parses them (such as a flag alone that
   *     means something else); returns its argument, or a copy, never changes it
   */
  public CommandLauncher(
      String name, CommandLines commandLines, UnaryOperator<String[]> arguments) {
    this.name = name;
    this.commandLines = commandLines;
    this.arguments = arguments;
  }

  /**
   * Runs the command for {@code main}: SIGTERM and SIGINT stop it cleanly; exits the JVM with the
   * exit status.
   *
   * @param args the arguments
   */
  public void runAndExit(String[] args) {
    System.exit(execute(args, System.out, System.err, new StopSignal(), true));
  }

  /**
   * Runs the command on the calling thread and returns its exit status, handling no signals: a
   * long-running command runs until {@code stop} is requested (or the thread is interrupted).
   *
   * @param args the arguments
   * @param out its stdout
   * @param err its stderr
   * @param stop how it is asked to stop; marked finished when this returns
   * @return the exit status
   */
  public int run(String[] args, PrintStream out, PrintStream err, StopSignal stop) {
    return execute(args, out, err, stop, false);
  }

  private int execute(
      String[] args, PrintStream out, PrintStream err, StopSignal stop, boolean installSignals) {
    CommandLine cli = commandLines.create(out, err, stop, installSignals);
    return CommandRunner.execute(name, cli, arguments.apply(args), out, err, stop);
  }
}
