package dev.configsync.cli;

import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * Runs a picocli command line the way both configsync commands do, and returns its exit status:
 * {@link #EXIT_OK}, {@link #EXIT_FAILURE} for an unexpected exception (logged, and named on
 * stderr), {@link #EXIT_USAGE} for bad arguments (message, suggestions and a pointer to {@code
 * --help} on stderr). Runs on the calling thread; holds no state.
 */
public final class CommandRunner {
  /** Exit status: clean stop, or success. */
  public static final int EXIT_OK = 0;

  /** Exit status: an unexpected failure; the message on stderr says what. */
  public static final int EXIT_FAILURE = 1;

  /** Exit status: bad arguments; the message on stderr names the flag. */
  public static final int EXIT_USAGE = 2;

  private CommandRunner() {}

  /**
   * Runs {@code cli} with {@code args}.
   *
   * @param name the command's name, the first word of every message on stderr
   * @param cli the command line, its commands built to print to {@code out} and {@code err}
   * @param args the arguments
   * @param out where picocli prints help and version
   * @param err where picocli prints its messages
   * @param stop marked finished when this returns, in case no command did (help, bad arguments)
   * @return the exit status
   */
  public static int execute(
      String name,
      CommandLine cli,
      String[] args,
      PrintStream out,
      PrintStream err,
      StopSignal stop) {
    PrintWriter outWriter = writer(out);
    PrintWriter errWriter = writer(err);
    cli.setOut(outWriter)
        .setErr(errWriter)
        .setParameterExceptionHandler((e, a) -> badArguments(name, e))
        .setExecutionExceptionHandler(
            (e, command, parseResult) -> {
              String qualified = command.getCommandSpec().qualifiedName();
              // Looked up now, not in a static field: a main may configure logging first.
              LoggerFactory.getLogger(CommandRunner.class)
                  .error("{} failed unexpectedly", qualified, e);
              command.getErr().println(name + ": unexpected failure: " + e);
              command.getErr().flush();
              return EXIT_FAILURE;
            });
    try {
      return cli.execute(args);
    } finally {
      stop.markFinished();
      outWriter.flush();
      errWriter.flush();
    }
  }

  private static int badArguments(String name, ParameterException e) {
    CommandLine command = e.getCommandLine();
    PrintWriter err = command.getErr();
    err.println(name + ": " + e.getMessage());
    CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
    err.println(
        "Try '" + command.getCommandSpec().qualifiedName() + " --help' for more information.");
    err.flush();
    return EXIT_USAGE;
  }

  private static PrintWriter writer(PrintStream stream) {
    return new PrintWriter(new OutputStreamWriter(stream, Charset.defaultCharset()), true);
  }
}
