package dev.configsync.cli.testing;

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
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A command in a JVM of its own, started through its {@code main} as {@code java -jar} would (the
 * test class path stands in for the shaded jar): signals, exit status, and its log on stderr, as an
 * operator sees them. Stdout is collected line by line; stderr goes to a file.
 */
public final class CommandProcess implements AutoCloseable {
  private final Process process;
  private final Path stderr;
  private final List<String> out = new CopyOnWriteArrayList<>();
  private final Thread reader;

  /**
   * Starts {@code java [jvmOptions] -cp <test class path> mainClass args}.
   *
   * @param mainClass the class with {@code main}
   * @param jvmOptions options for the JVM, such as {@code -Xmx128m}
   * @param args the command's arguments
   * @param stderr the file that receives its stderr
   * @throws IOException when the JVM cannot be started
   */
  public CommandProcess(Class<?> mainClass, List<String> jvmOptions, List<String> args, Path stderr)
      throws IOException {
    this.stderr = stderr;
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass.getName());
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
            mainClass.getSimpleName() + "-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Its stdout so far.
   *
   * @return one entry a line
   */
  public List<String> out() {
    return List.copyOf(out);
  }

  /**
   * Its stderr so far.
   *
   * @return the text, or a note saying why it cannot be read
   */
  public String err() {
    try {
      return Files.readString(stderr);
    } catch (IOException e) {
      return "(cannot read " + stderr + ": " + e + ")";
    }
  }

  /**
   * Waits for a stdout line starting with {@code prefix}, failing early if the process exits.
   *
   * @param prefix how the line starts
   * @param atMost how long to wait
   * @return the line
   */
  public String awaitLine(String prefix, Duration atMost) {
    await().atMost(atMost).until(() -> line(prefix).isPresent() || !process.isAlive());
    return line(prefix)
        .orElseThrow(
            () -> new AssertionError("the process exited before printing " + prefix + err()));
  }

  private Optional<String> line(String prefix) {
    return out.stream().filter(l -> l.startsWith(prefix)).findFirst();
  }

  /**
   * Sends SIGTERM and returns the exit status.
   *
   * @return the exit status
   * @throws InterruptedException when interrupted while waiting
   */
  public int stop() throws InterruptedException {
    process.destroy();
    return exitCode();
  }

  /**
   * The exit status, once the process has ended by itself (or been stopped).
   *
   * @return the exit status
   * @throws InterruptedException when interrupted while waiting
   */
  public int exitCode() throws InterruptedException {
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      throw new AssertionError("the process did not exit: " + err());
    }
    reader.join(10_000);
    return process.exitValue();
  }

  /** Kills the process if it still runs. */
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
