package dev.configsync.cp.cli;

import static org.awaitility.Awaitility.await;

import dev.configsync.cli.testing.RunningCommand;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code configsync-cp} started in-process on a thread of its own, stdout and stderr captured. */
final class RunningControlPlane implements AutoCloseable {
  /** How the line printed once the control plane is ready starts. */
  static final String READY_PREFIX = "configsync-cp ready: ";

  private static final Pattern READY =
      Pattern.compile(
          "configsync-cp ready: data planes on (\\S+):(\\d+) \\((\\w+) mode\\), (admin API on"
              + " http://(\\S+):(\\d+)|admin API off).*");

  private final RunningCommand command;

  RunningControlPlane(List<String> args) {
    command = new RunningCommand("configsync-cp-under-test", ControlPlaneMain.LAUNCHER::run, args);
  }

  String out() {
    return command.out();
  }

  String err() {
    return command.err();
  }

  /** Waits for the ready line (failing early if the command exits instead) and returns it. */
  Matcher awaitReady() {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> out().contains(" ready: ") || command.isDone());
    String line = out().lines().filter(l -> l.contains(" ready: ")).findFirst().orElse(null);
    if (line == null) {
      throw new AssertionError("configsync-cp exited before it was ready: " + err());
    }
    return parseReady(line);
  }

  /** Parses the ready line: group 2 the data plane port, 3 the mode, 6 the admin port. */
  static Matcher parseReady(String line) {
    Matcher m = READY.matcher(line);
    if (!m.matches()) {
      throw new AssertionError("unexpected ready line: " + line);
    }
    return m;
  }

  int dataPlanePort() {
    return Integer.parseInt(awaitReady().group(2));
  }

  int adminPort() {
    return Integer.parseInt(awaitReady().group(6));
  }

  /** Stops it the way SIGTERM does and returns its exit status. */
  int stop() throws Exception {
    return command.stop();
  }

  /** The exit status of a command that returns by itself. */
  int exitCode() throws Exception {
    return command.exitCode();
  }

  /** Stops it if it still runs. */
  @Override
  public void close() {
    command.close();
  }
}
