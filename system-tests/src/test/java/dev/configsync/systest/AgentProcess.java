package dev.configsync.systest;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A {@code configsync-agent run} process: mutual TLS with a certificate of its own, a cache
 * directory, an {@code --output} file, short heartbeats and reconnect delays, and the label {@code
 * node=<name>} (so a test finds it in {@code GET /clustering/data-planes}). Its stdout is the event
 * stream (one JSON object a line) that the tests read.
 */
final class AgentProcess {
  private final Processes processes;
  private final String name;
  private final List<String> args;
  private final Path cacheDir;
  private final Path output;
  private RunningProcess process;

  private AgentProcess(
      Processes processes, String name, List<String> args, Path cacheDir, Path output) {
    this.processes = processes;
    this.name = name;
    this.args = args;
    this.cacheDir = cacheDir;
    this.output = output;
  }

  /**
   * Starts {@code configsync-agent run} dialling {@code controlPlanes} (each one a {@code
   * --control-plane}), with {@code extraArgs} after the common ones. Returns once it has printed
   * its first event (it runs, its arguments were accepted).
   */
  static AgentProcess start(
      Processes processes,
      PkiFiles pki,
      String name,
      List<URI> controlPlanes,
      List<String> extraArgs) {
    Path dir = processes.dir(name);
    PkiFiles.Pair cert = pki.issue(name);
    Path cacheDir = dir.resolve("cache");
    Path output = dir.resolve("config.json");
    List<String> args = new ArrayList<>(List.of("run"));
    for (URI cp : controlPlanes) {
      args.add("--control-plane");
      args.add(cp.toString());
    }
    args.addAll(
        List.of(
            "--cert",
            cert.cert().toString(),
            "--key",
            cert.key().toString(),
            "--ca",
            pki.ca().toString(),
            "--cache-dir",
            cacheDir.toString(),
            "--output",
            output.toString(),
            "--heartbeat",
            ControlPlaneProcess.HEARTBEAT,
            "--reconnect-min",
            "200ms",
            "--reconnect-max",
            "1s",
            "--label",
            "node=" + name));
    args.addAll(extraArgs);
    AgentProcess agent = new AgentProcess(processes, name, List.copyOf(args), cacheDir, output);
    agent.launch();
    return agent;
  }

  private void launch() {
    process = processes.java(name, Jars.agent(), args);
    process.awaitStdout("first event", l -> l.startsWith("{"), Duration.ofSeconds(60));
  }

  /** Starts the agent again on the same cache directory and arguments. */
  void restart() {
    if (process.isAlive()) {
      throw new IllegalStateException(name + " still runs");
    }
    launch();
  }

  /** SIGKILL, as a crash. */
  void kill() {
    process.kill();
  }

  String name() {
    return name;
  }

  RunningProcess process() {
    return process;
  }

  Path cacheDir() {
    return cacheDir;
  }

  /**
   * Every event line printed so far, over all runs, parsed; lines that are not JSON are skipped.
   */
  List<JsonNode> events() {
    List<JsonNode> events = new ArrayList<>();
    for (String line : process.stdoutLines()) {
      if (!line.startsWith("{")) {
        continue;
      }
      try {
        events.add(AdminClient.JSON.readTree(line));
      } catch (IOException e) {
        // a line cut short by a SIGKILL: not an event
      }
    }
    return events;
  }

  /** The events named {@code event}, in the order printed. */
  List<JsonNode> events(String event) {
    return events().stream().filter(e -> e.path("event").asText().equals(event)).toList();
  }

  /** Waits for an event named {@code event} that {@code match} accepts, and returns it. */
  JsonNode awaitEvent(String event, Predicate<JsonNode> match, Duration atMost) {
    String line =
        process.awaitStdout(
            "event " + event,
            l -> {
              if (!l.startsWith("{")) {
                return false;
              }
              try {
                JsonNode e = AdminClient.JSON.readTree(l);
                return e.path("event").asText().equals(event) && match.test(e);
              } catch (IOException ex) {
                return false;
              }
            },
            atMost);
    try {
      return AdminClient.JSON.readTree(line);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** Waits until the agent reports {@code snapshot_applied} for {@code hash}. */
  JsonNode awaitApplied(String hash, Duration atMost) {
    return awaitEvent("snapshot_applied", e -> e.path("hash").asText().equals(hash), atMost);
  }

  /**
   * Waits until the agent reports {@code output_written} for {@code hash} (it comes after {@code
   * snapshot_applied}): the {@code --output} file holds that configuration.
   */
  JsonNode awaitOutput(String hash, Duration atMost) {
    return awaitEvent("output_written", e -> e.path("hash").asText().equals(hash), atMost);
  }

  /** The hashes of every {@code snapshot_applied}, in order. */
  List<String> appliedHashes() {
    return events("snapshot_applied").stream().map(e -> e.path("hash").asText()).toList();
  }

  /** The hash the agent runs now: that of its last {@code snapshot_applied}, null before any. */
  String runningHash() {
    List<String> applied = appliedHashes();
    return applied.isEmpty() ? null : applied.get(applied.size() - 1);
  }

  /** The {@code --output} file, parsed; a missing node when it does not exist yet. */
  JsonNode output() {
    try {
      return Files.exists(output)
          ? AdminClient.JSON.readTree(output.toFile())
          : com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    } catch (IOException e) {
      throw new AssertionError("cannot read " + output, e);
    }
  }

  Path outputFile() {
    return output;
  }

  /** {@code <cache-dir>/status.json}, parsed; a missing node when there is none yet. */
  JsonNode status() {
    Path file = cacheDir.resolve("status.json");
    try {
      return Files.exists(file)
          ? AdminClient.JSON.readTree(file.toFile())
          : com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    } catch (IOException e) {
      return com.fasterxml.jackson.databind.node.MissingNode.getInstance(); // replaced meanwhile
    }
  }

  /** The node's identity ({@code <cache-dir>/node.id}). */
  String nodeId() {
    try {
      return Files.readString(cacheDir.resolve("node.id")).trim();
    } catch (IOException e) {
      throw new AssertionError("cannot read the node id of " + name, e);
    }
  }

  @Override
  public String toString() {
    return name;
  }
}
