package dev.configsync.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.cli.testing.RunningCommand;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/** An agent started in-process on a thread of its own, with its stdout and stderr captured. */
final class RunningAgent {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final RunningCommand command;

  RunningAgent(List<String> args) {
    command = new RunningCommand("agent-under-test", AgentMain.LAUNCHER::run, args);
  }

  /** Everything printed on stdout so far, line by line. */
  List<String> outLines() {
    return command.out().lines().collect(Collectors.toList());
  }

  /** Everything printed on stderr so far. */
  String err() {
    return command.err();
  }

  /** The event lines so far, parsed; fails if any stdout line is not a JSON object. */
  List<JsonNode> events() {
    return outLines().stream().map(RunningAgent::parse).collect(Collectors.toList());
  }

  /** The first event named {@code name} that matches {@code condition}, if printed yet. */
  Optional<JsonNode> event(String name, Predicate<JsonNode> condition) {
    return events().stream()
        .filter(e -> e.path("event").asText().equals(name))
        .filter(condition)
        .findFirst();
  }

  boolean hasEvent(String name, Predicate<JsonNode> condition) {
    return event(name, condition).isPresent();
  }

  /** Whether the agent has returned. */
  boolean isDone() {
    return command.isDone();
  }

  /** Stops the agent the way SIGTERM does and returns its exit status. */
  int stop() throws Exception {
    return command.stop();
  }

  /** The exit status, for an agent that returns by itself. */
  int exitCode() throws Exception {
    return command.exitCode();
  }

  /** Stops the agent if it still runs. */
  void stopIfRunning() throws Exception {
    command.close();
  }

  private static JsonNode parse(String line) {
    try {
      JsonNode node = JSON.readTree(line);
      if (node == null || !node.isObject()) {
        throw new AssertionError("stdout line is not a JSON object: " + line);
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException("stdout line is not JSON: " + line, e);
    }
  }
}
