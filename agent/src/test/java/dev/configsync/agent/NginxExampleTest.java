package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.sun.net.httpserver.HttpServer;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worked nginx example (examples/nginx), for real: Debian's nginx, the agent keeping its routes
 * current from the control plane through render.sh, HTTP traffic through nginx.
 */
class NginxExampleTest {
  private static final Path EXAMPLE =
      Path.of("..", "examples", "nginx").toAbsolutePath().normalize();

  @TempDir Path dir;
  private final TestPki pki = TestPki.create();
  private final List<AutoCloseable> cleanup = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();
  private Path prefix;

  @AfterEach
  void tearDown() throws Exception {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
  }

  private static int run(Duration timeout, String... command) throws Exception {
    Path log = Files.createTempFile("configsync-nginx-run", ".log");
    try {
      int status = runWithin(timeout, log, null, command);
      if (status == -1) {
        fail("timed out after " + timeout + ": " + String.join(" ", command));
      }
      if (status != 0) {
        System.err.println(
            String.join(" ", command) + " exited " + status + ":\n" + Files.readString(log));
      }
      return status;
    } finally {
      Files.deleteIfExists(log);
    }
  }

  /** How long examples/nginx/install.sh may take (apt-get update and install on a slow mirror). */
  static final Duration INSTALL_LIMIT = Duration.ofMinutes(5);

  /**
   * Runs a command with stdin from /dev/null and its output to {@code log} (a file, not a pipe: a
   * pipe held open by a grandchild, apt-get say, would keep a reader waiting past any limit). When
   * {@code limit} passes, the command and every process it started are killed and this call returns
   * -1 at once.
   *
   * @param path the PATH to run it with, or null for this JVM's
   * @return the command's exit status, or -1 when it was killed at the limit
   */
  static int runWithin(Duration limit, Path log, String path, String... command) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    if (path != null) {
      pb.environment().put("PATH", path);
    }
    Process p = pb.start();
    if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor();
      return -1;
    }
    return p.exitValue();
  }

  /**
   * Installs nginx and jq with the example's own script; CI must have them, elsewhere skip. The
   * script never asks for a password (it uses {@code sudo -n}) and is killed after {@link
   * #INSTALL_LIMIT}.
   */
  private static void requireNginx() throws Exception {
    Path log = Files.createTempFile("configsync-nginx-install", ".log");
    try {
      int installed =
          runWithin(INSTALL_LIMIT, log, null, "sh", EXAMPLE.resolve("install.sh").toString());
      if (installed != 0) {
        String why =
            "examples/nginx/install.sh could not install nginx-light and jq ("
                + (installed == -1 ? "killed after " + INSTALL_LIMIT : "exit " + installed)
                + "): "
                + Files.readString(log).strip();
        if (System.getenv("CI") != null) {
          fail(why + "; CI must be able to run the nginx example");
        }
        Assumptions.abort(why + "; skipping the nginx example");
      }
    } finally {
      Files.deleteIfExists(log);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private HttpServer upstream(String name) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/",
        exchange -> {
          byte[] body = name.getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
    cleanup.add(() -> server.stop(0));
    return server;
  }

  private int startNginx() throws Exception {
    prefix = dir.resolve("nginx");
    for (String sub : new String[] {"conf", "logs", "tmp"}) {
      Files.createDirectories(prefix.resolve(sub));
    }
    int port = freePort();
    String conf =
        Files.readString(EXAMPLE.resolve("nginx.conf.template"))
            .replace("@PORT@", String.valueOf(port));
    Files.writeString(prefix.resolve("conf/nginx.conf"), conf);
    Files.writeString(prefix.resolve("conf/routes.conf"), "");
    assertThat(
            run(Duration.ofSeconds(30), "nginx", "-p", prefix.toString(), "-c", "conf/nginx.conf"))
        .isZero();
    cleanup.add(
        () ->
            run(
                Duration.ofSeconds(30),
                "nginx",
                "-p",
                prefix.toString(),
                "-c",
                "conf/nginx.conf",
                "-s",
                "quit"));
    return port;
  }

  private String get(int port, String path) {
    try {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                  .timeout(Duration.ofSeconds(5))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() + " " + r.body();
    } catch (IOException e) {
      return "failed: " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  @Test
  void nginxRoutesFollowTheControlPlaneAndABadConfigurationKeepsTheOldRoutes() throws Exception {
    requireNginx();
    int one = upstream("one").getAddress().getPort();
    int two = upstream("two").getAddress().getPort();
    int port = startNginx();
    TestControlPlane cp = TestControlPlane.start(pki);
    cleanup.add(cp);
    Path certs = pki.writeDataPlaneFiles(dir.resolve("pki"));
    RunningAgent agent =
        new RunningAgent(
            List.of(
                "run",
                "--control-plane",
                "wss://127.0.0.1:" + cp.port(),
                "--server-name",
                "localhost",
                "--cert",
                certs.resolve("dp.crt").toString(),
                "--key",
                certs.resolve("dp.key").toString(),
                "--ca",
                certs.resolve("ca.crt").toString(),
                "--cache-dir",
                dir.resolve("cache").toString(),
                "--output",
                dir.resolve("config.json").toString(),
                "--on-change",
                "NGINX_PREFIX='" + prefix + "' sh '" + EXAMPLE.resolve("render.sh") + "'",
                "--heartbeat",
                "1s",
                "--reconnect-min",
                "100ms",
                "--reconnect-max",
                "200ms"));
    cleanup.add(agent::stop);

    String a =
        cp.publish(
            "{\"services\":[{\"name\":\"one\",\"url\":\"http://127.0.0.1:"
                + one
                + "\"}],"
                + "\"routes\":[{\"name\":\"r1\",\"service\":{\"name\":\"one\"},\"paths\":[\"/a\"]}]}");
    await().atMost(Duration.ofSeconds(30)).until(() -> get(port, "/a").equals("200 one"));
    assertThat(get(port, "/configsync-hash")).isEqualTo("200 " + a);
    assertThat(get(port, "/b")).startsWith("404");

    String b =
        cp.publish(
            "{\"services\":[{\"name\":\"one\",\"url\":\"http://127.0.0.1:"
                + one
                + "\"},"
                + "{\"name\":\"two\",\"url\":\"http://127.0.0.1:"
                + two
                + "\","
                + "\"routes\":[{\"name\":\"r2\",\"paths\":[\"/b\"]}]}],"
                + "\"routes\":[{\"name\":\"r1\",\"service\":\"two\",\"paths\":[\"/a\"]}]}");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> get(port, "/configsync-hash").equals("200 " + b));
    assertThat(get(port, "/a")).isEqualTo("200 two");
    assertThat(get(port, "/b")).isEqualTo("200 two");

    // nginx refuses this one (a URL it cannot parse): render.sh keeps the previous routes, and the
    // agent reports the failed hook.
    String bad =
        cp.publish(
            "{\"services\":[{\"name\":\"x\",\"url\":\"http://bad host name\"}],"
                + "\"routes\":[{\"name\":\"r\",\"service\":\"x\",\"paths\":[\"/a\"]}]}");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                agent.hasEvent(
                    "on_change_finished",
                    e -> e.path("hash").asText().equals(bad) && e.path("exit_code").asInt() == 1));
    assertThat(get(port, "/configsync-hash")).isEqualTo("200 " + b);
    assertThat(get(port, "/a")).isEqualTo("200 two");
  }

  /**
   * An expired license stops nginx serving (503 on every route) and a renewed one brings the routes
   * back, with the agent running throughout.
   */
  @Test
  void anExpiredLicenseMakesNginxAnswer503AndARenewedOneRestoresTheRoutes() throws Exception {
    requireNginx();
    int one = upstream("one").getAddress().getPort();
    int port = startNginx();
    TestControlPlane cp = TestControlPlane.start(pki);
    cleanup.add(cp);
    Path certs = pki.writeDataPlaneFiles(dir.resolve("pki"));
    java.security.KeyPair vendor = dev.configsync.license.LicenseSigner.generateKeyPair();
    Path keyFile =
        Files.writeString(
            dir.resolve("license.pub"),
            dev.configsync.license.LicenseSigner.publicKeyPem(vendor.getPublic()));
    String config =
        "{\"services\":[{\"name\":\"one\",\"url\":\"http://127.0.0.1:"
            + one
            + "\"}],\"routes\":[{\"name\":\"r1\",\"service\":\"one\",\"paths\":[\"/a\"]}]}";
    java.time.LocalDate today = java.time.LocalDate.now(java.time.ZoneOffset.UTC);
    java.util.function.Function<java.time.LocalDate, com.fasterxml.jackson.databind.JsonNode>
        licensed =
            lastDay -> {
              try {
                return dev.configsync.license.LicenseSigner.withLicense(
                    new com.fasterxml.jackson.databind.ObjectMapper().readTree(config),
                    new dev.configsync.license.LicenseSigner(vendor.getPrivate())
                        .sign(
                            new dev.configsync.License(
                                "Example Co",
                                "K-1",
                                "Enterprise",
                                1,
                                lastDay.minusDays(400),
                                lastDay)));
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            };
    cp.publish(licensed.apply(today.minusDays(1)));
    RunningAgent agent =
        new RunningAgent(
            List.of(
                "run",
                "--control-plane",
                "wss://127.0.0.1:" + cp.port(),
                "--cert",
                certs.resolve("dp.crt").toString(),
                "--key",
                certs.resolve("dp.key").toString(),
                "--ca",
                certs.resolve("ca.crt").toString(),
                "--cache-dir",
                dir.resolve("cache").toString(),
                "--license-key",
                keyFile.toString(),
                "--output",
                dir.resolve("config.json").toString(),
                "--on-change",
                "NGINX_PREFIX='" + prefix + "' sh '" + EXAMPLE.resolve("render.sh") + "'",
                "--heartbeat",
                "1s",
                "--reconnect-min",
                "100ms",
                "--reconnect-max",
                "200ms"));
    cleanup.add(agent::stop);

    await().atMost(Duration.ofSeconds(30)).until(() -> get(port, "/a").startsWith("503 "));
    assertThat(get(port, "/a")).contains("license expired");
    assertThat(get(port, "/configsync-hash")).isEqualTo("200 2da3c26e4dbd6dd6ea3ab60a3dd7fb3e");

    String renewed = cp.publish(licensed.apply(today.plusYears(1)));
    await().atMost(Duration.ofSeconds(30)).until(() -> get(port, "/a").equals("200 one"));
    assertThat(get(port, "/configsync-hash")).isEqualTo("200 " + renewed);
    assertThat(agent.isDone()).isFalse();
  }

  /**
   * The example declares no plugins because it enforces none; a configuration with a plugin that
   * reaches it anyway is refused before nginx is touched (only jq is needed), the routes unchanged.
   */
  @Test
  void renderRefusesAConfigurationThatUsesAPluginAndKeepsTheRoutes() throws Exception {
    if (run(Duration.ofSeconds(30), "sh", "-c", "command -v jq") != 0) {
      requireNginx(); // installs jq too, or skips outside CI
    }
    Path conf = Files.createDirectories(dir.resolve("nginx").resolve("conf"));
    Files.writeString(conf.resolve("routes.conf"), "# the running routes\n");
    Path config = dir.resolve("config.json");
    Files.writeString(
        config,
        "{\"services\":[{\"name\":\"s\",\"url\":\"http://127.0.0.1:1\",\"routes\":[{\"paths\":"
            + "[\"/a\"],\"plugins\":[{\"name\":\"key-auth\"}]}]}]}");
    ProcessBuilder pb = new ProcessBuilder("sh", EXAMPLE.resolve("render.sh").toString());
    pb.environment().put("CONFIGSYNC_OUTPUT", config.toString());
    pb.environment().put("CONFIGSYNC_HASH", "0123456789abcdef0123456789abcdef");
    pb.environment().put("NGINX_PREFIX", dir.resolve("nginx").toString());
    Process render = pb.redirectErrorStream(true).start();
    String output = new String(render.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(render.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(render.exitValue()).as(output).isEqualTo(1);
    assertThat(output).contains("uses plugins (key-auth)").contains("keeping the previous routes");
    assertThat(Files.readString(conf.resolve("routes.conf"))).isEqualTo("# the running routes\n");
    assertThat(conf.resolve("routes.conf.new")).doesNotExist();
  }

  /**
   * The install step's time limit fires: a script that hangs (here a child sleeping ten minutes,
   * holding the script's output open as apt-get would) is killed, children included, and the run
   * returns long before the child would have ended.
   */
  @Test
  void theInstallTimeLimitKillsAHangingScriptAndWhatItStarted() throws Exception {
    Path pidFile = dir.resolve("child.pid");
    Path script =
        Files.writeString(
            dir.resolve("hang.sh"),
            "sleep 600 &\necho $! > '" + pidFile + "'\necho installing\nwait\n");
    long started = System.nanoTime();
    int status =
        assertTimeoutPreemptively(
            Duration.ofMinutes(3),
            () ->
                runWithin(
                    Duration.ofSeconds(2), dir.resolve("hang.log"), null, "sh", script.toString()));
    assertThat(status).isEqualTo(-1);
    assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMinutes(3));
    long child = Long.parseLong(Files.readString(pidFile).strip());
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> ProcessHandle.of(child).map(h -> !h.isAlive()).orElse(true));
    assertThat(Files.readString(dir.resolve("hang.log"))).contains("installing");
  }

  /**
   * install.sh never waits at a sudo password prompt: as a user whose sudo wants a password (a fake
   * sudo that, unless given -n, hangs as a prompt would), it says what it needs and exits 1.
   */
  @Test
  void installDoesNotWaitForASudoPassword() throws Exception {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path id = Files.writeString(bin.resolve("id"), "#!/bin/sh\necho 1000\n");
    Path sudo =
        Files.writeString(
            bin.resolve("sudo"),
            """
            #!/bin/sh
            if [ "$1" = -n ]; then echo 'sudo: a password is required' >&2; exit 1; fi
            echo '[sudo] password for user:' >&2
            exec /bin/sleep 600
            """);
    for (Path p : List.of(id, sudo)) {
      Files.setPosixFilePermissions(
          p, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    Path log = dir.resolve("install.log");
    int status =
        runWithin(
            Duration.ofMinutes(1), // it answers at once; a prompt would wait for ever
            log,
            bin.toString(),
            "/bin/sh",
            EXAMPLE.resolve("install.sh").toString());
    assertThat(status).as(Files.readString(log)).isEqualTo(1);
    assertThat(Files.readString(log))
        .contains("needs root or sudo without a password")
        .doesNotContain("password for user");
  }
}
