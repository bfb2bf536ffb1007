package dev.configsync.systest;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The example gateway ({@code configsync-gateway.jar}): a reverse proxy that embeds the client. It
 * serves on a free port of 127.0.0.1 (read from its {@code gateway listening on} log line); every
 * answer it routes carries {@code X-Configsync-Hash}, the configuration that routed it, which is
 * how a test sees what the process really runs.
 */
final class GatewayProcess {
  private static final Pattern LISTENING = Pattern.compile(".*gateway listening on [^ ]*:(\\d+).*");

  private final RunningProcess process;
  private final URI base;
  private final Path cacheDir;
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  private GatewayProcess(RunningProcess process, URI base, Path cacheDir) {
    this.process = process;
    this.base = base;
    this.cacheDir = cacheDir;
  }

  /** Starts the gateway dialling {@code cp}, with {@code extraArgs}; waits until it listens. */
  static GatewayProcess start(
      Processes processes,
      PkiFiles pki,
      String name,
      ControlPlaneProcess cp,
      List<String> extraArgs) {
    Path dir = processes.dir(name);
    PkiFiles.Pair cert = pki.issue(name);
    List<String> args =
        new ArrayList<>(
            List.of(
                "--control-plane",
                cp.outlet().toString(),
                "--cert",
                cert.cert().toString(),
                "--key",
                cert.key().toString(),
                "--ca",
                pki.ca().toString(),
                "--cache-dir",
                dir.resolve("cache").toString(),
                "--listen",
                "127.0.0.1:0"));
    args.addAll(extraArgs);
    RunningProcess process = processes.java(name, Jars.gateway(), args);
    String line =
        process.awaitStderr(
            "'gateway listening on' log line",
            l -> LISTENING.matcher(l).matches(),
            Duration.ofSeconds(60));
    Matcher m = LISTENING.matcher(line);
    if (!m.matches()) {
      throw new AssertionError(line);
    }
    return new GatewayProcess(
        process, URI.create("http://127.0.0.1:" + m.group(1)), dir.resolve("cache"));
  }

  /** {@code GET path} through the gateway. */
  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The hash that routed {@code GET path} ({@code X-Configsync-Hash}), or null when none did. */
  String routedBy(String path) throws IOException, InterruptedException {
    return get(path).headers().firstValue("X-Configsync-Hash").orElse(null);
  }

  /** The node's identity, kept in its cache directory. */
  String nodeId() throws IOException {
    return java.nio.file.Files.readString(cacheDir.resolve("node.id")).trim();
  }

  RunningProcess process() {
    return process;
  }
}
