package dev.configsync.cp.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code configsync-cp} in a JVM of its own, started through {@link ControlPlaneMain#main} as
 * {@code java -jar configsync-cp.jar} would (the test class path stands in for the shaded jar):
 * signals, exit status, and its log on stderr, as an operator sees them.
 */
final class ControlPlaneProcess implements AutoCloseable {
  private static final Pattern READY =
      Pattern.compile(
          "configsync-cp ready: data planes on (\\S+):(\\d+) \\((\\w+) mode\\), (admin API on"
              + " http://(\\S+):(\\d+)|admin API off).*");

  private final Process process;
  private final Path stderr;
  private final List<String> out = new CopyOnWriteArrayList<>();
  private final Thread reader;

  /** Starts {@code configsync-cp args}; stderr goes to {@code stderr}. */
  ControlPlaneProcess(List<String> args, Path stderr) throws IOException {
    this.stderr = stderr;
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx128m");
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(ControlPlaneMain.class.getName());
    command.addAll(args);
    process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
    reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8))) {
                in.lines().forEach(out::add);
              } catch (IOException e) {
                out.add("READ FAILED " + e);
              }
            },
            "configsync-cp-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /** Its stdout so far, one entry a line. */
  List<String> out() {
    return List.copyOf(out);
  }

  /** Its stderr so far. */
  String err() {
    try {
      return Files.readString(stderr);
    } catch (IOException e) {
      return "(cannot read " + stderr + ": " + e + ")";
    }
  }

  /** Waits for the ready line (failing early if the process exits instead) and parses it. */
  Matcher awaitReady() {
    await().atMost(Duration.ofSeconds(90)).until(() -> readyLine() != null || !process.isAlive());
    String line = readyLine();
    if (line == null) {
      throw new AssertionError("configsync-cp exited before it was ready: " + err());
    }
    Matcher m = READY.matcher(line);
    if (!m.matches()) {
      throw new AssertionError("unexpected ready line: " + line);
    }
    return m;
  }

  private String readyLine() {
    return out.stream().filter(l -> l.startsWith("configsync-cp ready: ")).findFirst().orElse(null);
  }

  int dataPlanePort() {
    return Integer.parseInt(awaitReady().group(2));
  }

  int adminPort() {
    return Integer.parseInt(awaitReady().group(6));
  }

  /** Sends SIGTERM and returns the exit status. */
  int stop() throws InterruptedException {
    process.destroy();
    return exitCode();
  }

  /** The exit status, once the process has ended by itself (or been stopped). */
  int exitCode() throws InterruptedException {
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      throw new AssertionError("configsync-cp did not exit: " + err());
    }
    reader.join(10_000);
    return process.exitValue();
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
