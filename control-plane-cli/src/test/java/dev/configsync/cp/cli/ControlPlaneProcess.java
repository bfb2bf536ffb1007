package dev.configsync.cp.cli;

import dev.configsync.cli.testing.CommandProcess;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;

/**
 * {@code configsync-cp} in a JVM of its own, started through {@link ControlPlaneMain#main} as
 * {@code java -jar configsync-cp.jar} would (the test class path stands in for the shaded jar):
 * signals, exit status, and its log on stderr, as an operator sees them.
 */
final class ControlPlaneProcess implements AutoCloseable {
  private final CommandProcess process;

  /** Starts {@code configsync-cp args}; stderr goes to {@code stderr}. */
  ControlPlaneProcess(List<String> args, Path stderr) throws IOException {
    process = new CommandProcess(ControlPlaneMain.class, List.of("-Xmx128m"), args, stderr);
  }

  /** Its stdout so far, one entry a line. */
  List<String> out() {
    return process.out();
  }

  /** Its stderr so far. */
  String err() {
    return process.err();
  }

  /** Waits for the ready line (failing early if the process exits instead) and parses it. */
  Matcher awaitReady() {
    return RunningControlPlane.parseReady(
        process.awaitLine(RunningControlPlane.READY_PREFIX, Duration.ofSeconds(90)));
  }

  int dataPlanePort() {
    return Integer.parseInt(awaitReady().group(2));
  }

  int adminPort() {
    return Integer.parseInt(awaitReady().group(6));
  }

  /** Kills it with SIGKILL (no shutdown hook runs) and returns the exit status. */
  int kill() throws IOException, InterruptedException {
    process.signal("KILL");
    return process.exitCode();
  }

  /** Sends SIGTERM and returns the exit status. */
  int stop() throws InterruptedException {
    return process.stop();
  }

  /** The exit status, once the process has ended by itself (or been stopped). */
  int exitCode() throws InterruptedException {
    return process.exitCode();
  }

  @Override
  public void close() {
    process.close();
  }
}
