package dev.configsync.agent;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/** An agent started in-process on a thread of its own, with its stdout and stderr captured. */
final class RunningAgent {
  private static final ObjectMapper JSON = new ObjectMapper();

  // ByteArrayOutputStream and PrintStream are synchronized: safe to write and read concurrently.
  private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
  private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
  private final StopSignal stop = new StopSignal();
  private final CompletableFuture<Integer> exit = new CompletableFuture<>();

  RunningAgent(List<String> args) {
    PrintStream out = new PrintStream(outBytes, true, UTF_8);
    PrintStream err = new PrintStream(errBytes, true, UTF_8);
    Thread thread =
        new Thread(
            () -> {
              try {
                exit.complete(AgentMain.run(args.toArray(new String[0]), out, err, stop));
              } catch (Throwable e) {
                exit.completeExceptionally(e);
              }
            },
            "agent-under-test");
    thread.setDaemon(true);
    thread.start();
  }

  /** Everything printed on stdout so far, line by line. */
  List<String> outLines() {
    return outBytes.toString(UTF_8).lines().collect(Collectors.toList());
  }

  /** Everything printed on stderr so far. */
  String err() {
    return errBytes.toString(UTF_8);
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
    return exit.isDone();
  }

  /** Stops the agent the way SIGTERM does and returns its exit status. */
  int stop() throws Exception {
    stop.requestStop();
    return exit.get(30, TimeUnit.SECONDS);
  }

  /** The exit status, for an agent that returns by itself. */
  int exitCode() throws Exception {
    return exit.get(30, TimeUnit.SECONDS);
  }

  /** Stops the agent if it still runs. */
  void stopIfRunning() throws Exception {
    if (!exit.isDone()) {
      stop();
    }
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
