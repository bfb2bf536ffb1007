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
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A command in a JVM of its own, started through its {@code main} as {@code java -jar} would (the
 * test class path stands in for the shaded jar): signals, exit status, and its log on stderr, as an
 * operator sees them. Stdout is collected line by line; stderr goes to a file.
 */
public final class CommandProcess implements AutoCloseable {
  /**
   * Runs the command with SIGINT and SIGTERM back to their default actions ({@code env
   * --default-signal}, GNU coreutils 8.31 and later). A build started in the background by a
   * non-interactive shell ({@code mvn verify &}, {@code nohup}) ignores SIGINT, its children
   * inherit that, and a JVM that starts with SIGINT ignored installs no handler for it: the command
   * would never see the operator's Ctrl-C that these tests send. Elsewhere than Linux, nothing is
   * changed.
   */
  private static final List<String> DEFAULT_SIGNALS =
      System.getProperty("os.name", "").startsWith("Linux")
              && Files.isExecutable(Path.of("/usr/bin/env"))
          ? List.of("/usr/bin/env", "--default-signal=INT,TERM")
          : List.of();

  /**
   * Before the test's own options: these JVMs start, do a little and stop, many times per build on
   * a 2-core CI machine, and what the tests check is signals, exit codes and output, not the JIT or
   * the collector. C1 alone and the serial collector spare the compiler and GC threads that a
   * default JVM starts (docs/testing.md, "How long the suite takes").
   */
  static final List<String> QUICK_START = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

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
    this(mainClass, jvmOptions, Map.of(), args, stderr);
  }

  /**
   * Starts {@code java [jvmOptions] -cp <test class path> mainClass args} with more environment
   * variables.
   *
   * @param mainClass the class with {@code main}
   * @param jvmOptions options for the JVM, such as {@code -Xmx128m}
   * @param environment variables added to this JVM's environment for the process
   * @param args the command's arguments
   * @param stderr the file that receives its stderr
   * @throws IOException when the JVM cannot be started
   */
  public CommandProcess(
      Class<?> mainClass,
      List<String> jvmOptions,
      Map<String, String> environment,
      List<String> args,
      Path stderr)
      throws IOException {
    this.stderr = stderr;
    List<String> command = new ArrayList<>();
    command.addAll(DEFAULT_SIGNALS);
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(QUICK_START);
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(mainClass.getName());
    command.addAll(args);
    ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderr.toFile());
    builder.environment().putAll(environment);
    process = builder.start();
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
    return awaitLine(l -> l.startsWith(prefix), prefix, atMost);
  }

  /**
   * Waits for a stdout line that matches {@code condition}, failing early if the process exits.
   *
   * @param condition what the line holds
   * @param what the line, in the failure message
   * @param atMost how long to wait
   * @return the line
   */
  public String awaitLine(Predicate<String> condition, String what, Duration atMost) {
    await().atMost(atMost).until(() -> line(condition).isPresent() || !process.isAlive());
    return line(condition)
        .orElseThrow(
            () -> new AssertionError("the process exited before printing " + what + err()));
  }

  private Optional<String> line(Predicate<String> condition) {
    return out.stream().filter(condition).findFirst();
  }

  /**
   * Sends a signal with {@code kill}, as an operator would, and returns at once.
   *
   * @param name the signal's name without {@code SIG}, such as {@code TERM} or {@code INT}
   * @throws IOException when {@code kill} cannot be run
   * @throws InterruptedException when interrupted while {@code kill} runs
   */
  public void signal(String name) throws IOException, InterruptedException {
    new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
        .inheritIO()
        .start()
        .waitFor();
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
