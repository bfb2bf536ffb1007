package dev.configsync.backup.s3;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;

/**
 * A real S3-compatible server for tests: the npm package s3rver, pinned, installed by this class
 * into {@code target/s3rver} on first use ({@code npm install}; later runs reuse it), and run as a
 * child process on a loopback port it picks itself ({@code --port 0}; it prints the port). Needs
 * {@code node} and {@code npm} on the PATH: without them the tests fail in CI ({@code CI=true}) and
 * are skipped elsewhere.
 */
final class S3rver implements AutoCloseable {
  static final String PACKAGE_VERSION = "3.7.1";

  /** s3rver's fixed credentials. */
  static final String ACCESS_KEY_ID = "S3RVER";

  static final String SECRET_ACCESS_KEY = "S3RVER";

  private static final InetAddress LOOPBACK = loopback();
  private static final Pattern LISTENING = Pattern.compile("S3rver listening on [^\\s:]+:(\\d+)");
  private static final Duration INSTALL_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

  private final Process process;
  private final int port;
  private final Path log;

  private S3rver(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  /**
   * Installs s3rver if needed and starts it on a free port with {@code buckets} created, storing
   * objects under {@code directory}; returns once it accepts connections.
   */
  static S3rver start(Path directory, String... buckets) throws IOException, InterruptedException {
    Path script = install();
    List<String> command = new ArrayList<>();
    command.add("node");
    command.add(script.toString());
    command.addAll(
        List.of(
            "--directory",
            directory.toString(),
            "--address",
            "127.0.0.1",
            "--port",
            "0", // the server picks a free port and prints it
            "--silent"));
    for (String bucket : buckets) {
      command.add("--configure-bucket");
      command.add(bucket);
    }
    Path log = Files.createTempFile(installDirectory(), "s3rver-", ".log");
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
            .start();
    try {
      int port =
          Awaitility.await("s3rver to print its port")
              .atMost(START_TIMEOUT)
              .pollInterval(Duration.ofMillis(20))
              .until(() -> listeningPort(process, log), p -> p > 0);
      S3rver server = new S3rver(process, port, log);
      Awaitility.await("s3rver accepting connections on 127.0.0.1:" + port)
          .atMost(START_TIMEOUT)
          .pollInterval(Duration.ofMillis(20))
          .until(server::accepting);
      return server;
    } catch (RuntimeException | Error e) {
      new S3rver(process, 0, log).close();
      throw e;
    }
  }

  /** The port from s3rver's "S3rver listening on 127.0.0.1:PORT" line, or 0 before it. */
  private static int listeningPort(Process process, Path log) throws IOException {
    if (!process.isAlive()) {
      throw new IllegalStateException(
          "s3rver exited with status " + process.exitValue() + " before listening:\n" + tail(log));
    }
    Matcher m = LISTENING.matcher(Files.readString(log, UTF_8));
    return m.find() ? Integer.parseInt(m.group(1)) : 0;
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + port);
  }

  /** Stops the server and any child processes, forcibly if it does not stop within 5 s. */
  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroy);
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private boolean accepting() throws IOException {
    if (!process.isAlive()) {
      throw new IllegalStateException(
          "s3rver exited with status " + process.exitValue() + " before listening:\n" + tail(log));
    }
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(LOOPBACK, port), 200);
      return true;
    } catch (IOException notYet) {
      return false;
    }
  }

  // ---- installation ------------------------------------------------------------------------

  private static synchronized Path install() throws IOException, InterruptedException {
    Path base = installDirectory();
    Path packageDir = base.resolve("node_modules").resolve("s3rver");
    Path script = packageDir.resolve("bin").resolve("s3rver.js");
    requireTool("node");
    if (Files.isRegularFile(script) && installedVersionMatches(packageDir)) {
      return script;
    }
    requireTool("npm");
    Files.createDirectories(base);
    Path log = base.resolve("npm-install.log");
    List<String> command =
        List.of(
            "npm",
            "install",
            "--prefix",
            base.toString(),
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            "s3rver@" + PACKAGE_VERSION);
    long started = System.nanoTime();
    Process npm =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
            .start();
    if (!npm.waitFor(INSTALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      npm.descendants().forEach(ProcessHandle::destroyForcibly);
      npm.destroyForcibly();
      throw new IllegalStateException(
          "`" + String.join(" ", command) + "` took over " + INSTALL_TIMEOUT + ":\n" + tail(log));
    }
    if (npm.exitValue() != 0 || !Files.isRegularFile(script)) {
      throw new IllegalStateException(
          "`"
              + String.join(" ", command)
              + "` failed with status "
              + npm.exitValue()
              + " (is the npm registry reachable?):\n"
              + tail(log));
    }
    System.out.printf(
        "installed s3rver %s into %s in %d ms%n",
        PACKAGE_VERSION, base, Duration.ofNanos(System.nanoTime() - started).toMillis());
    return script;
  }

  private static boolean installedVersionMatches(Path packageDir) throws IOException {
    Path manifest = packageDir.resolve("package.json");
    return Files.isRegularFile(manifest)
        && Files.readString(manifest, UTF_8)
            .matches("(?s).*\"version\"\\s*:\\s*\"" + PACKAGE_VERSION.replace(".", "\\.") + "\".*");
  }

  private static Path installDirectory() {
    // Surefire runs tests in the module's directory.
    return Path.of("target", "s3rver").toAbsolutePath();
  }

  /** Fails in CI, skips elsewhere, when {@code tool} cannot be run. */
  private static void requireTool(String tool) throws InterruptedException {
    String problem;
    try {
      Process p =
          new ProcessBuilder(tool, "--version")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        problem = "`" + tool + " --version` did not finish within 60 s";
      } else if (p.exitValue() != 0) {
        problem = "`" + tool + " --version` failed with status " + p.exitValue();
      } else {
        return;
      }
    } catch (IOException e) {
      problem = "`" + tool + "` is not on the PATH (" + e.getMessage() + ")";
    }
    String message =
        problem
            + ": the S3 backup tests run a real S3-compatible server (npm package s3rver "
            + PACKAGE_VERSION
            + ") and need Node.js and npm; install them (Debian: apt-get install nodejs npm)";
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(message);
    }
    Assumptions.abort(message + " [skipped: not in CI]");
  }

  /** 127.0.0.1, where s3rver listens (not ::1, whatever the JVM prefers). */
  private static InetAddress loopback() {
    try {
      return InetAddress.getByAddress("localhost", new byte[] {127, 0, 0, 1});
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e); // cannot happen: the address has four bytes
    }
  }

  private static java.io.File nullDevice() {
    return new java.io.File(
        System.getProperty("os.name", "").startsWith("Windows") ? "NUL" : "/dev/null");
  }

  private static String tail(Path file) {
    try {
      List<String> lines = Files.readAllLines(file, UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no output: " + e.getMessage() + ")";
    }
  }
}
