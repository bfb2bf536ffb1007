package dev.configsync.systest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code configsync-cp} process: mutual TLS for data planes on a free port of 127.0.0.1, the
 * admin API on another with a bearer token from a file, and whatever a test adds (a store, etcd,
 * capabilities). Started, it has printed its ready line; {@link #restart} starts it again on the
 * same ports with the same arguments.
 */
final class ControlPlaneProcess {
  private static final Pattern READY =
      Pattern.compile(
          "configsync-cp ready: data planes on [^ ]+:(\\d+) .*admin API on (http://[^ ]+:(\\d+))"
              + " .*");

  /** The heartbeat of every process in the system tests: short, so that dead peers show fast. */
  static final String HEARTBEAT = "1s";

  private final Processes processes;
  private final String name;
  private final List<String> args;
  private final String token;
  private RunningProcess process;
  private int dataPort;
  private int adminPort;
  private AdminClient admin;

  private ControlPlaneProcess(Processes processes, String name, List<String> args, String token) {
    this.processes = processes;
    this.name = name;
    this.args = args;
    this.token = token;
  }

  /**
   * Starts {@code configsync-cp} named {@code name} (its files in a directory of that name) with
   * the certificates of {@code pki} and {@code extraArgs}, and waits for its ready line.
   */
  static ControlPlaneProcess start(
      Processes processes, PkiFiles pki, String name, List<String> extraArgs) {
    Path dir = processes.dir(name);
    String token = "systest-" + UUID.randomUUID().toString().replace("-", "");
    Path tokenFile = dir.resolve("admin.token");
    try {
      Files.writeString(tokenFile, token + "\n", StandardCharsets.US_ASCII);
      Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> args = new ArrayList<>();
    args.addAll(
        List.of(
            "--cert",
            pki.server().cert().toString(),
            "--key",
            pki.server().key().toString(),
            "--ca",
            pki.ca().toString(),
            "--admin-token-file",
            tokenFile.toString(),
            "--heartbeat",
            HEARTBEAT));
    args.addAll(extraArgs);
    ControlPlaneProcess cp = new ControlPlaneProcess(processes, name, List.copyOf(args), token);
    cp.launch("127.0.0.1:0", "127.0.0.1:0");
    return cp;
  }

  private void launch(String listen, String adminListen) {
    List<String> all = new ArrayList<>(args);
    all.addAll(List.of("--listen", listen, "--admin-listen", adminListen));
    process = processes.java(name, Jars.controlPlane(), all);
    String ready =
        process.awaitStdout(
            "ready line", l -> l.startsWith("configsync-cp ready:"), Duration.ofSeconds(60));
    Matcher m = READY.matcher(ready);
    if (!m.matches()) {
      throw new AssertionError("unexpected ready line: " + ready);
    }
    dataPort = Integer.parseInt(m.group(1));
    adminPort = Integer.parseInt(m.group(3));
    admin = new AdminClient(URI.create(m.group(2)), token);
  }

  /** Starts the control plane again (after {@link #kill} or {@link #stop}) on the same ports. */
  void restart() {
    if (process.isAlive()) {
      throw new IllegalStateException(name + " still runs");
    }
    launch("127.0.0.1:" + dataPort, "127.0.0.1:" + adminPort);
  }

  /** SIGKILL, as a crash. */
  void kill() {
    process.kill();
  }

  /** SIGTERM; returns the exit status. */
  int stop() {
    return process.stop(Duration.ofSeconds(30));
  }

  String name() {
    return name;
  }

  AdminClient admin() {
    return admin;
  }

  /** The bearer token of the admin API (a secret the logs must never show). */
  String token() {
    return token;
  }

  int adminPort() {
    return adminPort;
  }

  int dataPort() {
    return dataPort;
  }

  /**
   * The address data planes dial ({@code localhost} is a name of the control plane's certificate).
   */
  URI outlet() {
    return URI.create("wss://localhost:" + dataPort);
  }

  RunningProcess process() {
    return process;
  }

  /** Everything the control plane logged (stderr), over all its runs. */
  String log() {
    return process.stderrText();
  }
}
