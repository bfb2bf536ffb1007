package dev.configsync.systest;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.awaitility.core.ConditionTimeoutException;
import org.awaitility.core.TerminalFailureException;

/**
 * One process started by a test, with its stdout and stderr written to files of their own (read
 * back as they grow, so that a test can wait for a line). Killing it (SIGKILL) is a crash; {@link
 * #stop} is the clean stop an operator's SIGTERM asks for.
 */
final class RunningProcess {
  private final String name;
  private final List<String> command;
  private final Process process;
  private final Path stdout;
  private final Path stderr;
  private final long stdoutStart;
  private final long stderrStart;

  private RunningProcess(
      String name,
      List<String> command,
      Process process,
      Path stdout,
      Path stderr,
      long stdoutStart,
      long stderrStart) {
    this.name = name;
    this.command = List.copyOf(command);
    this.process = process;
    this.stdout = stdout;
    this.stderr = stderr;
    this.stdoutStart = stdoutStart;
    this.stderrStart = stderrStart;
  }

  /**
   * Starts {@code command} with its output in {@code <dir>/<name>.out} and {@code
   * <dir>/<name>.err}; a restarted process of the same name appends to the same files.
   */
  static RunningProcess start(String name, Path dir, List<String> command) {
    Path out = dir.resolve(name + ".out");
    Path err = dir.resolve(name + ".err");
    try {
      Files.createDirectories(dir);
      long outStart = Files.exists(out) ? Files.size(out) : 0;
      long errStart = Files.exists(err) ? Files.size(err) : 0;
      Process process =
          new ProcessBuilder(command)
              .redirectInput(ProcessBuilder.Redirect.PIPE)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
              .redirectError(ProcessBuilder.Redirect.appendTo(err.toFile()))
              .start();
      process.getOutputStream().close(); // nothing on stdin, as under systemd
      return new RunningProcess(name, command, process, out, err, outStart, errStart);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name + ": " + command, e);
    }
  }

  String name() {
    return name;
  }

  List<String> command() {
    return command;
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  Path stdoutFile() {
    return stdout;
  }

  Path stderrFile() {
    return stderr;
  }

  /** Everything written to stdout so far (by every run of this name). */
  String stdoutText() {
    return read(stdout);
  }

  /** Everything written to stderr so far (by every run of this name). */
  String stderrText() {
    return read(stderr);
  }

  List<String> stdoutLines() {
    return stdoutText().lines().toList();
  }

  List<String> stderrLines() {
    return stderrText().lines().toList();
  }

  /**
   * Waits for a line of this run's stdout (not of an earlier run of the same name) matching {@code
   * line}, and returns it; fails at once if the process ends without printing it.
   */
  String awaitStdout(String what, Predicate<String> line, Duration atMost) {
    return awaitLine(what, () -> read(stdout, stdoutStart).lines().toList(), line, atMost);
  }

  /** As {@link #awaitStdout}, on stderr. */
  String awaitStderr(String what, Predicate<String> line, Duration atMost) {
    return awaitLine(what, () -> read(stderr, stderrStart).lines().toList(), line, atMost);
  }

  private String awaitLine(
      String what,
      java.util.function.Supplier<List<String>> lines,
      Predicate<String> line,
      Duration atMost) {
    AtomicReference<String> found = new AtomicReference<>();
    try {
      await()
          .atMost(atMost)
          .pollInterval(Duration.ofMillis(50))
          .failFast(() -> !process.isAlive() && first(lines.get(), line) == null)
          .until(
              () -> {
                found.set(first(lines.get(), line));
                return found.get() != null;
              });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(name + ": no " + what + " within " + atMost + "\n" + tails(), e);
    } catch (TerminalFailureException e) {
      throw new AssertionError(
          name + " ended (exit " + exitText() + ") without printing " + what + "\n" + tails(), e);
    }
    return found.get();
  }

  private static String first(List<String> lines, Predicate<String> line) {
    for (String l : lines) {
      if (line.test(l)) {
        return l;
      }
    }
    return null;
  }

  /** SIGKILL: the process dies at once, as in a crash. Waits until it is gone. */
  void kill() {
    process.destroyForcibly();
    waitGone();
  }

  /**
   * SIGTERM, and waits up to {@code atMost} for the process to exit; kills it if it does not.
   *
   * @return its exit status
   */
  int stop(Duration atMost) {
    process.destroy();
    try {
      if (!process.waitFor(atMost.toMillis(), TimeUnit.MILLISECONDS)) {
        kill();
        throw new AssertionError(
            name + " did not stop within " + atMost + " of SIGTERM\n" + tails());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      kill();
    }
    return process.exitValue();
  }

  /** Waits for the process to end by itself and returns its status. */
  int awaitExit(Duration atMost) {
    try {
      if (!process.waitFor(atMost.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(name + " still runs after " + atMost + "\n" + tails());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
    return process.exitValue();
  }

  private void waitGone() {
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private String exitText() {
    return process.isAlive() ? "none yet" : Integer.toString(process.exitValue());
  }

  /** The last lines of both outputs, for failure messages. */
  String tails() {
    return "--- "
        + name
        + " (pid "
        + process.pid()
        + ", exit "
        + exitText()
        + ") stdout "
        + stdout
        + ":\n"
        + tail(stdoutText(), 15)
        + "--- stderr "
        + stderr
        + ":\n"
        + tail(stderrText(), 25);
  }

  private static String tail(String text, int lines) {
    List<String> all = text.lines().toList();
    StringBuilder b = new StringBuilder();
    for (String l : all.subList(Math.max(0, all.size() - lines), all.size())) {
      b.append("  ").append(l).append('\n');
    }
    return b.toString();
  }

  private static String read(Path file) {
    return read(file, 0);
  }

  private static String read(Path file, long from) {
    try {
      byte[] bytes = Files.readAllBytes(file);
      int start = (int) Math.min(from, bytes.length);
      // Decoded leniently: what a hostile peer made a process write need not be valid UTF-8.
      return new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String toString() {
    return name + " (pid " + process.pid() + ")";
  }
}
