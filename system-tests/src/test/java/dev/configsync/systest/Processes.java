package dev.configsync.systest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts the processes of one test and ends every one of them when closed, whatever happened. Each
 * test gets a directory of its own under {@link Jars#workDir()}; the processes' outputs stay there
 * after the run, for whoever reads a failure.
 *
 * <p>Jars run with {@code java -jar}, as an operator runs them, on the JVM that runs the tests. The
 * JVM options only make them start faster and take less memory on a small, shared machine.
 */
final class Processes implements AutoCloseable {
  /** For a quick start and a small footprint; nothing the programs themselves depend on. */
  static final List<String> JVM_OPTIONS =
      List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k", "-Xmx160m");

  private static final Path JAVA =
      Path.of(System.getProperty("java.home"), "bin", "java").toAbsolutePath();

  private final Path dir;
  private final List<RunningProcess> started = new ArrayList<>();

  private Processes(Path dir) {
    this.dir = dir;
  }

  /** A fresh directory {@code <workDir>/<name>} (emptied if a former run left one). */
  static Processes in(String name) {
    Path dir = Jars.workDir().resolve(name).toAbsolutePath();
    try {
      if (Files.exists(dir)) {
        try (var files = Files.walk(dir)) {
          files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Processes(dir);
  }

  Path dir() {
    return dir;
  }

  /** A directory for one participant's files, created. */
  Path dir(String name) {
    Path d = dir.resolve(name);
    try {
      Files.createDirectories(d);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return d;
  }

  /** Starts {@code java [JVM_OPTIONS] -jar jar args...}. */
  synchronized RunningProcess java(String name, Path jar, List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(JAVA.toString());
    command.addAll(JVM_OPTIONS);
    command.add("-jar");
    command.add(jar.toString());
    command.addAll(args);
    return exec(name, command);
  }

  /** Starts any command, ended like the others when this closes. */
  synchronized RunningProcess exec(String name, List<String> command) {
    RunningProcess p = RunningProcess.start(name, dir, command);
    started.add(p);
    return p;
  }

  /** The outcome of a command that runs to its end: its status and what it printed. */
  record Result(int exit, String stdout, String stderr) {}

  /** Runs {@code java -jar jar args...} to its end (at most a minute). */
  Result run(String name, Path jar, List<String> args) {
    RunningProcess p = java(name, jar, args);
    int exit = p.awaitExit(Duration.ofMinutes(1));
    return new Result(exit, p.stdoutText(), p.stderrText());
  }

  /** Kills (SIGKILL) every process still running and waits until each is gone. */
  @Override
  public synchronized void close() {
    for (RunningProcess p : started) {
      if (p.isAlive()) {
        p.kill();
      }
    }
    started.clear();
  }
}
