package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.cli.testing.CommandProcess;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code configsync-agent load} against a running agent (real mutual TLS on 127.0.0.1, real files),
 * and without one.
 */
class AgentLoadTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  static {
    // The agents of these tests look at incoming/ often, so that the tests wait little.
    System.setProperty(IncomingWatcher.POLL_INTERVAL_PROPERTY, "50ms");
  }

  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private TestControlPlane cp;
  private final List<RunningAgent> agents = new ArrayList<>();
  private Path cache;

  @BeforeEach
  void startControlPlane() {
    cp = TestControlPlane.start(pki);
    cache = dir.resolve("cache");
  }

  @AfterEach
  void stopEverything() throws Exception {
    for (RunningAgent agent : agents) {
      agent.stopIfRunning();
    }
    cp.close();
  }

  private List<String> runArgs() {
    Path certs = pki.writeDataPlaneFiles(dir.resolve("pki"));
    return new ArrayList<>(
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
            cache.toString(),
            "--heartbeat",
            "200ms",
            "--reconnect-min",
            "100ms",
            "--reconnect-max",
            "200ms"));
  }

  private RunningAgent start(List<String> args) {
    RunningAgent agent = new RunningAgent(args);
    agents.add(agent);
    return agent;
  }

  private BadArgumentsTest.Result load(Path file, String... more) {
    List<String> args = new ArrayList<>(List.of("load", file.toString(), "--cache-dir"));
    args.add(cache.toString());
    args.addAll(List.of(more));
    return BadArgumentsTest.run(args);
  }

  private static String hashOf(String json) throws Exception {
    return ConfigHash.configHash(JSON.readTree(json));
  }

  private static JsonNode answer(BadArgumentsTest.Result result) throws Exception {
    List<String> lines = result.out().lines().toList();
    assertThat(lines).as(result.err()).hasSize(1);
    return JSON.readTree(lines.get(0));
  }

  /** A config.json.gz whose configuration was changed after its hash was computed. */
  static byte[] forgedPayload(String configJson) throws Exception {
    byte[] genuine = HybridProtocol.reconfigure(JSON.readTree(configJson), 1_700_000_000.0);
    ObjectNode message = (ObjectNode) JSON.readTree(Gzip.decompress(genuine, 1 << 24));
    ((ObjectNode) message.get("config_table")).put("_comment", "changed after hashing");
    return Gzip.compress(JSON.writeValueAsBytes(message));
  }

  private List<Path> incomingFiles() throws IOException {
    Path incoming = cache.resolve("incoming");
    if (!Files.isDirectory(incoming)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(incoming)) {
      return files.toList();
    }
  }

  /** The first event {@code name} matching {@code condition}, once the agent has printed it. */
  private static JsonNode awaitEvent(
      RunningAgent agent, String name, Predicate<JsonNode> condition) {
    return await().until(() -> agent.event(name, condition), Optional::isPresent).orElseThrow();
  }

  private static JsonNode readJson(Path file) throws Exception {
    return JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
  }

  @Test
  void runningAgentLoadsAFileWhileTheControlPlaneIsDown() throws Exception {
    Path output = dir.resolve("config.json");
    String first = cp.publish(AgentRunTest.config(1));
    List<String> args = runArgs();
    args.addAll(List.of("--output", output.toString()));
    RunningAgent agent = start(args);
    await()
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(first)));
    cp.stop();
    await().until(() -> agent.hasEvent("disconnected", e -> true));

    Path yaml =
        Files.writeString(
            dir.resolve("kong.yml"),
            """
            _format_version: "3.0"
            services:
              - name: s2
                url: http://backend:8080
            routes:
              - name: r2
                paths:
                  - /v2
            """);
    String manual = hashOf(AgentRunTest.config(2));
    BadArgumentsTest.Result result = load(yaml);

    assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_OK);
    JsonNode answer = answer(result);
    assertThat(answer.path("ok").asBoolean()).isTrue();
    assertThat(answer.path("hash").asText()).isEqualTo(manual);
    assertThat(answer.path("applied").asText()).isEqualTo("agent");
    // The answer is written before the event line: wait for it.
    JsonNode finished =
        awaitEvent(agent, "manual_load_finished", e -> e.path("hash").asText().equals(manual));
    assertThat(finished.path("ok").asBoolean()).isTrue();
    assertThat(finished.has("error")).isFalse();
    assertThat(finished.path("force").asBoolean()).isFalse();
    awaitEvent(
        agent,
        "snapshot_applied",
        e ->
            e.path("hash").asText().equals(manual)
                && e.path("source").asText().equals("manual")
                && e.path("previous_hash").asText().equals(first));
    await()
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(manual)));
    assertThat(readJson(output)).isEqualTo(JSON.readTree(AgentRunTest.config(2)));
    await().until(() -> incomingFiles().isEmpty()); // request and answer are both gone

    // A forged copy of a cache is refused, and the agent keeps running what it runs.
    Path forged = Files.write(dir.resolve("config.json.gz"), forgedPayload(AgentRunTest.config(3)));
    BadArgumentsTest.Result refused = load(forged);

    assertThat(refused.exit()).as(refused.err()).isEqualTo(AgentMain.EXIT_FAILURE);
    assertThat(refused.err()).contains(forged.toString(), "does not match");
    assertThat(answer(refused).path("ok").asBoolean()).isFalse();
    awaitEvent(agent, "manual_load_finished", e -> !e.path("ok").asBoolean());
    assertThat(readJson(output)).isEqualTo(JSON.readTree(AgentRunTest.config(2)));
    assertThat(agent.isDone()).isFalse();

    // When the control plane is back, its configuration replaces the manual one.
    cp.restart();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                agent.hasEvent(
                    "manual_config_replaced", e -> e.path("manual_hash").asText().equals(manual)));
    await()
        .until(
            () ->
                agent.events().stream()
                        .filter(e -> e.path("event").asText().equals("output_written"))
                        .filter(e -> e.path("hash").asText().equals(first))
                        .count()
                    == 2);
    assertThat(readJson(output)).isEqualTo(JSON.readTree(AgentRunTest.config(1)));
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void loadWhileConnectedIsRefusedUnlessForced() throws Exception {
    String first = cp.publish(AgentRunTest.config(4));
    RunningAgent agent = start(runArgs());
    await()
        .until(
            () -> agent.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(first)));
    await().until(() -> agent.hasEvent("connected", e -> true));
    Path file = Files.writeString(dir.resolve("manual.json"), AgentRunTest.config(5));
    String manual = hashOf(AgentRunTest.config(5));

    BadArgumentsTest.Result refused = load(file);

    assertThat(refused.exit()).as(refused.err()).isEqualTo(AgentMain.EXIT_FAILURE);
    assertThat(refused.err()).contains("connected to the control plane", "load --force");
    JsonNode answer = answer(refused);
    assertThat(answer.path("ok").asBoolean()).isFalse();
    assertThat(answer.path("error").asText()).contains("connected");
    awaitEvent(
        agent,
        "manual_load_finished",
        e -> !e.path("ok").asBoolean() && e.path("error").asText().contains("--force"));
    assertThat(agent.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(manual)))
        .isFalse();

    BadArgumentsTest.Result forced = load(file, "--force");

    assertThat(forced.exit()).as(forced.err()).isEqualTo(AgentMain.EXIT_OK);
    assertThat(answer(forced).path("hash").asText()).isEqualTo(manual);
    awaitEvent(
        agent,
        "manual_load_finished",
        e -> e.path("ok").asBoolean() && e.path("force").asBoolean());
    await()
        .until(
            () ->
                agent.hasEvent(
                    "snapshot_applied",
                    e ->
                        e.path("hash").asText().equals(manual)
                            && e.path("source").asText().equals("manual")));
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void withoutARunningAgentLoadWritesTheCacheAndTheNextRunStartsFromIt() throws Exception {
    cp.stop();
    Path file = Files.writeString(dir.resolve("kong.json"), AgentRunTest.config(6));
    String manual = hashOf(AgentRunTest.config(6));

    BadArgumentsTest.Result result = load(file);

    assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_OK);
    JsonNode answer = answer(result);
    assertThat(answer.path("ok").asBoolean()).isTrue();
    assertThat(answer.path("hash").asText()).isEqualTo(manual);
    assertThat(answer.path("applied").asText()).isEqualTo("cache");
    Path cached = cache.resolve("config.json.gz");
    assertThat(BadArgumentsTest.run(List.of("hash", cached.toString())).out().trim())
        .isEqualTo(manual);
    assertThat(incomingFiles()).isEmpty();

    // A forged file is refused and leaves the cache as it was.
    Path forged = Files.write(dir.resolve("copy.json.gz"), forgedPayload(AgentRunTest.config(7)));
    BadArgumentsTest.Result refused = load(forged);
    assertThat(refused.exit()).as(refused.err()).isEqualTo(AgentMain.EXIT_FAILURE);
    assertThat(refused.err()).contains("does not match");
    assertThat(answer(refused).path("ok").asBoolean()).isFalse();
    assertThat(BadArgumentsTest.run(List.of("hash", cached.toString())).out().trim())
        .isEqualTo(manual);

    Path output = dir.resolve("config.json");
    List<String> args = runArgs();
    args.addAll(List.of("--output", output.toString()));
    RunningAgent agent = start(args);

    await()
        .until(
            () ->
                agent.hasEvent(
                    "snapshot_applied",
                    e ->
                        e.path("hash").asText().equals(manual)
                            && e.path("source").asText().equals("manual")));
    await()
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(manual)));
    assertThat(readJson(output)).isEqualTo(JSON.readTree(AgentRunTest.config(6)));
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void secondAgentOnTheSameCacheDirectoryExitsWith2() throws Exception {
    RunningAgent first = start(runArgs());
    await().until(() -> first.hasEvent("connected", e -> true));

    RunningAgent second = start(runArgs());

    assertThat(second.exitCode()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(second.err()).contains("is in use by another configsync-agent", "agent.lock");
    assertThat(second.outLines()).isEmpty();
    assertThat(first.isDone()).isFalse();
    assertThat(first.stop()).isEqualTo(AgentMain.EXIT_OK);
    assertThat(cache.resolve("agent.lock")).exists(); // left, and meaningless once unlocked
  }

  /** The agent in another JVM: the file lock, not this JVM's bookkeeping, says that it runs. */
  @Test
  void loadFindsAnAgentRunningInAnotherProcess() throws Exception {
    cp.stop();
    Path stderr = dir.resolve("agent.err");
    try (CommandProcess process =
        new CommandProcess(
            AgentMain.class,
            List.of("-D" + IncomingWatcher.POLL_INTERVAL_PROPERTY + "=50ms"),
            runArgs(),
            stderr)) {
      process.awaitLine(
          l -> l.contains("\"disconnected\""), "disconnected", Duration.ofSeconds(60));
      Path file = Files.writeString(dir.resolve("kong.json"), AgentRunTest.config(8));
      String manual = hashOf(AgentRunTest.config(8));

      BadArgumentsTest.Result result = load(file);

      assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_OK);
      assertThat(answer(result).path("applied").asText()).isEqualTo("agent");
      await()
          .until(
              () ->
                  process.out().stream()
                      .anyMatch(
                          l ->
                              l.contains("\"manual_load_finished\"")
                                  && l.contains(manual)
                                  && l.contains("\"ok\":true")));
      await()
          .until(
              () ->
                  process.out().stream()
                      .anyMatch(
                          l ->
                              l.contains("snapshot_applied")
                                  && l.contains(manual)
                                  && l.contains("\"source\":\"manual\"")));

      assertThat(process.stop()).as(process.err()).isEqualTo(AgentMain.EXIT_OK); // SIGTERM
    }
  }
}
