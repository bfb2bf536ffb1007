package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.cli.testing.CommandProcess;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The agent against a real control plane: mutual TLS on 127.0.0.1, files on disk. */
class AgentRunTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private TestControlPlane cp;
  private final List<RunningAgent> agents = new ArrayList<>();

  @BeforeEach
  void startControlPlane() {
    cp = TestControlPlane.start(pki);
  }

  @AfterEach
  void stopEverything() throws Exception {
    for (RunningAgent agent : agents) {
      agent.stopIfRunning();
    }
    cp.close();
  }

  static String config(int version) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"s"
        + version
        + "\",\"url\":\"http://backend:8080\"}],\"routes\":[{\"name\":\"r"
        + version
        + "\",\"paths\":[\"/v"
        + version
        + "\"]}]}";
  }

  private List<String> baseArgs() {
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
            dir.resolve("cache").toString(),
            "--heartbeat",
            "200ms",
            "--reconnect-min",
            "100ms",
            "--reconnect-max",
            "200ms",
            "--label",
            "region=test"));
  }

  private RunningAgent start(List<String> args) {
    RunningAgent agent = new RunningAgent(args);
    agents.add(agent);
    return agent;
  }

  private static JsonNode readJson(Path file) throws Exception {
    return JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
  }

  @Test
  void runWithTwoControlPlanesOneOfThemDeadConnectsAndUsesBoth() throws Exception {
    int dead;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      dead = s.getLocalPort(); // closed again: connecting there is refused
    }
    String hash = cp.publish(config(1));
    List<String> args = baseArgs();
    // The dead replica first, the live one in a second --control-plane.
    args.set(args.indexOf("--control-plane") + 1, "wss://127.0.0.1:" + dead);
    args.addAll(List.of("--control-plane", "wss://127.0.0.1:" + cp.port()));
    RunningAgent agent = start(args);

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(hash)));
    assertThat(port(agent.event("connected", e -> true).orElseThrow())).isEqualTo(cp.port());

    // With the live one gone too, the agent's attempts go to either address, picked at random.
    cp.stop();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.hasEvent("connecting", e -> port(e) == dead));
    cp.restart();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                agent.events().stream()
                        .filter(e -> e.path("event").asText().equals("connected"))
                        .count()
                    >= 2);
    assertThat(agent.events().stream().filter(e -> e.path("event").asText().equals("connected")))
        .allSatisfy(e -> assertThat(port(e)).isEqualTo(cp.port()));
  }

  private static int port(JsonNode event) {
    return URI.create(event.path("endpoint").asText()).getPort();
  }

  @Test
  void runPrintsJsonLinesAndWritesOutput() throws Exception {
    Path output = dir.resolve("gateway/config.json");
    Files.createDirectories(output.getParent());
    String first = cp.publish(config(1));
    List<String> args = baseArgs();
    args.addAll(List.of("--output", output.toString()));
    RunningAgent agent = start(args);

    await()
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(first)));
    JsonNode applied =
        agent.event("snapshot_applied", e -> e.path("hash").asText().equals(first)).orElseThrow();
    assertThat(applied.path("source").asText()).isEqualTo("control_plane");
    assertThat(applied.path("time").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
    assertThat(applied.has("previous_hash")).isFalse(); // null fields are left out
    assertThat(applied.path("delta").asBoolean(true)).isFalse(); // a whole configuration
    assertThat(applied.path("entities_changed").asInt()).isEqualTo(2); // a service and a route
    assertThat(readJson(output)).isEqualTo(JSON.readTree(config(1)));
    JsonNode written =
        agent.event("output_written", e -> e.path("hash").asText().equals(first)).orElseThrow();
    assertThat(written.path("path").asText()).isEqualTo(output.toAbsolutePath().toString());
    List<String> names = agent.events().stream().map(e -> e.path("event").asText()).toList();
    assertThat(names).contains("connecting", "connected");
    assertThat(names.indexOf("snapshot_applied")).isLessThan(names.indexOf("output_written"));

    String second = cp.publish(config(2));
    await()
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(second)));
    assertThat(readJson(output)).isEqualTo(JSON.readTree(config(2)));
    assertThat(
            agent
                .event("snapshot_applied", e -> e.path("hash").asText().equals(second))
                .orElseThrow()
                .path("previous_hash")
                .asText())
        .isEqualTo(first);
    // Both entities replaced by others of new names: two removed, two added.
    assertThat(
            agent
                .event("snapshot_applied", e -> e.path("hash").asText().equals(second))
                .orElseThrow()
                .path("entities_changed")
                .asInt())
        .isEqualTo(4);

    // A change to the configuration in force, as a reconfigure_delta: one route's paths.
    JsonNode base = JSON.readTree(config(2));
    com.fasterxml.jackson.databind.node.ObjectNode changed = base.deepCopy();
    ((com.fasterxml.jackson.databind.node.ObjectNode) changed.withArray("routes").get(0))
        .putArray("paths")
        .add("/v2")
        .add("/changed");
    String third =
        cp.publishChange(
            changed,
            new dev.configsync.internal.delta.DeltaFrame(
                    second,
                    dev.configsync.internal.ConfigHash.configHashes(changed),
                    3,
                    System.currentTimeMillis() / 1000.0,
                    dev.configsync.internal.delta.ConfigDiff.diff(base, changed))
                .encode());
    await()
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(third)));
    JsonNode delta =
        agent.event("snapshot_applied", e -> e.path("hash").asText().equals(third)).orElseThrow();
    assertThat(delta.path("delta").asBoolean(false)).as(delta.toString()).isTrue();
    assertThat(delta.path("entities_changed").asInt()).isEqualTo(1);
    assertThat(delta.path("previous_hash").asText()).isEqualTo(second);
    assertThat(readJson(output)).isEqualTo(changed);
    try (var files = Files.list(output.getParent())) {
      assertThat(files).containsExactly(output); // no temporary file left behind
    }

    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
    List<JsonNode> events = agent.events();
    assertThat(events.get(events.size() - 1).path("event").asText()).isEqualTo("stopped");
    assertThat(events).allSatisfy(e -> assertThat(e.path("time").asText()).endsWith("Z"));
    // Logs went to stderr, not stdout (every stdout line parsed as JSON above).
    assertThat(agent.err()).doesNotContain("\"event\"");
  }

  /** A configuration with a license whose last day is {@code lastDay} (UTC). */
  private static JsonNode licensed(int version, java.security.KeyPair vendor, LocalDate lastDay)
      throws Exception {
    JsonNode license =
        new dev.configsync.license.LicenseSigner(vendor.getPrivate())
            .sign(
                new dev.configsync.License(
                    "Example Co",
                    "KEY-1234-5678",
                    "Enterprise",
                    1,
                    lastDay.minusDays(400),
                    lastDay));
    return dev.configsync.license.LicenseSigner.withLicense(
        JSON.readTree(config(version)), license);
  }

  /**
   * An expired license stops serving, not listening: the output is emptied and the on-change
   * command told so, the agent keeps connecting, and a renewed license serves again, also after a
   * restart on a cache whose license has expired (which used to exit 3 at once, before the renewed
   * license could arrive).
   */
  @Test
  void anExpiredLicenseEmptiesTheOutputAndARenewedOneRestoresItAlsoAfterARestart()
      throws Exception {
    java.security.KeyPair vendor = dev.configsync.license.LicenseSigner.generateKeyPair();
    Path keyFile = dir.resolve("license.pub");
    Files.writeString(
        keyFile, dev.configsync.license.LicenseSigner.publicKeyPem(vendor.getPublic()));
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    Path output = dir.resolve("config.json");
    Path runs = dir.resolve("runs.txt");
    String expired = cp.publish(licensed(9, vendor, today.minusDays(1)));
    List<String> args = baseArgs();
    args.addAll(
        List.of(
            "--license-key",
            keyFile.toString(),
            "--output",
            output.toString(),
            "--on-change",
            "echo \"$CONFIGSYNC_HASH $CONFIGSYNC_SERVING\" >> '" + runs + "'"));

    RunningAgent agent = start(args);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.hasEvent("output_withdrawn", e -> true));
    assertThat(agent.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(expired)))
        .isTrue();
    assertThat(agent.hasEvent("license_expired", e -> true)).isTrue();
    assertThat(agent.hasEvent("output_written", e -> true)).isFalse();
    assertThat(readJson(output).size()).as("the empty configuration").isZero();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> Files.exists(runs) && Files.readString(runs).contains("false"));
    assertThat(Files.readString(runs))
        .isEqualTo("2da3c26e4dbd6dd6ea3ab60a3dd7fb3e false\n"); // the hash of {}
    assertThat(agent.isDone()).as("an expired license stops serving, not the agent").isFalse();

    // A renewed license: the agent serves again.
    String renewed = cp.publish(licensed(10, vendor, today.plusYears(1)));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(renewed)));
    assertThat(agent.hasEvent("license_renewed", e -> true)).isTrue();
    assertThat(readJson(output).path("services").get(0).path("name").asText()).isEqualTo("s10");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> Files.readString(runs).contains(renewed + " true"));
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);

    // The cache now holds the renewed configuration; make it expire there: the control plane
    // goes back to an expired license, the agent takes it, and stops.
    RunningAgent second = start(args);
    await().atMost(Duration.ofSeconds(20)).until(() -> second.hasEvent("connected", e -> true));
    String expiredAgain = cp.publish(licensed(11, vendor, today.minusDays(2)));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> second.hasEvent("output_withdrawn", e -> true));
    assertThat(
            second.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(expiredAgain)))
        .isTrue();
    assertThat(readJson(output).size()).isZero();
    assertThat(second.stop()).isEqualTo(AgentMain.EXIT_OK);

    // Restarted on that cache, with the renewed license on the control plane.
    String renewedAgain = cp.publish(licensed(12, vendor, today.plusYears(1)));
    Files.writeString(output, "{\"left\":\"by an earlier run\"}");
    RunningAgent third = start(args);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                third.hasEvent(
                    "output_written", e -> e.path("hash").asText().equals(renewedAgain)));
    List<String> names =
        third.events().stream().map(e -> e.path("event").asText()).collect(Collectors.toList());
    assertThat(names)
        .containsSubsequence(
            "license_expired",
            "snapshot_applied",
            "output_withdrawn",
            "connecting",
            "connected",
            "license_renewed",
            "snapshot_applied",
            "output_written");
    assertThat(third.event("snapshot_applied", e -> true).orElseThrow().path("source").asText())
        .isEqualTo("cache");
    assertThat(third.hasEvent("output_written", e -> e.path("hash").asText().equals(expiredAgain)))
        .as("an expired configuration is never written")
        .isFalse();
    assertThat(readJson(output).path("services").get(0).path("name").asText()).isEqualTo("s12");
    assertThat(third.isDone()).isFalse();
    assertThat(third.stop()).isEqualTo(AgentMain.EXIT_OK);
    assertInTimeOrder(third);
  }

  /**
   * The lines printed on the client's listener thread (every event but the on-change and load
   * results, which come from threads of their own) are in the order of their times.
   */
  private static void assertInTimeOrder(RunningAgent agent) {
    List<JsonNode> lines =
        agent.events().stream()
            .filter(e -> !e.path("event").asText().startsWith("on_change_"))
            .filter(e -> !e.path("event").asText().equals("manual_load_finished"))
            .collect(Collectors.toList());
    for (int i = 1; i < lines.size(); i++) {
      Instant before = Instant.parse(lines.get(i - 1).path("time").asText());
      Instant after = Instant.parse(lines.get(i).path("time").asText());
      assertThat(after)
          .as("line %d: %s after %s", i, lines.get(i), lines.get(i - 1))
          .isAfterOrEqualTo(before);
    }
  }

  /**
   * A license in its warning window: {@code license_expiring} used to be printed after a {@code
   * snapshot_applied} and an {@code output_written} stamped later than it.
   */
  @Test
  void licenseEventsArePrintedInTimeOrder() throws Exception {
    java.security.KeyPair vendor = dev.configsync.license.LicenseSigner.generateKeyPair();
    Path keyFile = dir.resolve("license.pub");
    Files.writeString(
        keyFile, dev.configsync.license.LicenseSigner.publicKeyPem(vendor.getPublic()));
    String hash = cp.publish(licensed(5, vendor, LocalDate.now(ZoneOffset.UTC).plusDays(3)));
    List<String> args = baseArgs();
    args.addAll(
        List.of(
            "--license-key", keyFile.toString(), "--output", dir.resolve("out.json").toString()));
    RunningAgent agent = start(args);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(hash)));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> agent.hasEvent("license_expiring", e -> true));
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
    assertInTimeOrder(agent);
  }

  @Test
  void onChangeRunsCommandWithHashEnv() throws Exception {
    Path output = dir.resolve("config.json");
    Path hashFile = dir.resolve("hash.txt");
    Path outputEnvFile = dir.resolve("output-env.txt");
    String hash = cp.publish(config(3));
    List<String> args = baseArgs();
    args.addAll(
        List.of(
            "--output",
            output.toString(),
            "--on-change",
            "printf %s \"$CONFIGSYNC_HASH\" > '"
                + hashFile
                + "'; printf %s \"$CONFIGSYNC_OUTPUT\" > '"
                + outputEnvFile
                + "'; echo said-on-stdout; echo said-on-stderr >&2; exit 3"));
    RunningAgent agent = start(args);

    await()
        .until(
            () -> agent.hasEvent("on_change_finished", e -> e.path("hash").asText().equals(hash)));
    JsonNode finished =
        agent.event("on_change_finished", e -> e.path("hash").asText().equals(hash)).orElseThrow();
    assertThat(finished.path("exit_code").asInt()).isEqualTo(3);
    assertThat(finished.path("duration_ms").isIntegralNumber()).isTrue();
    assertThat(finished.path("duration").asText()).startsWith("PT");
    assertThat(Files.readString(hashFile)).isEqualTo(hash);
    assertThat(Files.readString(outputEnvFile)).isEqualTo(output.toAbsolutePath().toString());
    // The command's output went to the agent's stderr, never to its stdout.
    await().until(() -> agent.err().contains("on-change: said-on-stdout"));
    assertThat(agent.err()).contains("on-change: said-on-stderr");
    assertThat(agent.outLines()).noneMatch(l -> l.contains("said-on"));
    List<String> names = agent.events().stream().map(e -> e.path("event").asText()).toList();
    assertThat(names.indexOf("output_written")).isLessThan(names.indexOf("on_change_finished"));

    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void onChangeWithoutOutputRunsAfterEachSnapshotWithoutOutputVariable() throws Exception {
    Path log = dir.resolve("runs.txt");
    String first = cp.publish(config(4));
    List<String> args = baseArgs();
    args.addAll(
        List.of(
            "--on-change",
            "echo \"$CONFIGSYNC_HASH ${CONFIGSYNC_OUTPUT-unset}\" >> '" + log + "'"));
    RunningAgent agent = start(args);
    await()
        .until(
            () -> agent.hasEvent("on_change_finished", e -> e.path("hash").asText().equals(first)));

    String second = cp.publish(config(5));
    await()
        .until(
            () ->
                agent.hasEvent("on_change_finished", e -> e.path("hash").asText().equals(second)));

    assertThat(Files.readAllLines(log)).endsWith(second + " unset");
    assertThat(Files.readAllLines(log)).contains(first + " unset");
    assertThat(agent.events()).noneMatch(e -> e.path("event").asText().startsWith("output_"));
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void outputFailureIsReportedAndTheAgentKeepsRunning() throws Exception {
    Path output = dir.resolve("missing-directory/config.json");
    String first = cp.publish(config(6));
    List<String> args = baseArgs();
    args.addAll(List.of("--output", output.toString(), "--on-change", "true"));
    RunningAgent agent = start(args);

    await()
        .until(() -> agent.hasEvent("output_failed", e -> e.path("hash").asText().equals(first)));
    JsonNode failed =
        agent.event("output_failed", e -> e.path("hash").asText().equals(first)).orElseThrow();
    assertThat(failed.path("reason").asText()).contains("NoSuchFileException");
    assertThat(failed.path("path").asText()).isEqualTo(output.toAbsolutePath().toString());
    // The file did not change, so the command did not run.
    assertThat(agent.events()).noneMatch(e -> e.path("event").asText().startsWith("on_change"));

    // Once the directory exists, the next configuration is written.
    Files.createDirectories(output.getParent());
    String second = cp.publish(config(7));
    await()
        .until(() -> agent.hasEvent("output_written", e -> e.path("hash").asText().equals(second)));
    assertThat(readJson(output)).isEqualTo(JSON.readTree(config(7)));
    assertThat(agent.isDone()).isFalse();
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void restartServesCachedConfigurationAndRewritesOutput() throws Exception {
    Path output = dir.resolve("config.json");
    String hash = cp.publish(config(8));
    List<String> args = baseArgs();
    args.addAll(List.of("--output", output.toString()));
    RunningAgent first = start(args);
    await().until(() -> first.hasEvent("cache_written", e -> e.path("hash").asText().equals(hash)));
    assertThat(first.stop()).isEqualTo(AgentMain.EXIT_OK);
    Files.delete(output);
    cp.stop();

    RunningAgent second = start(args);

    await()
        .until(
            () ->
                second.hasEvent(
                    "snapshot_applied",
                    e ->
                        e.path("hash").asText().equals(hash)
                            && e.path("source").asText().equals("cache")));
    await().until(() -> second.hasEvent("output_written", e -> true));
    assertThat(readJson(output)).isEqualTo(JSON.readTree(config(8)));
    await().until(() -> second.hasEvent("disconnected", e -> e.has("retry_in_ms")));
    assertThat(second.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void publicRunStopsCleanlyWhenItsThreadIsInterrupted() throws Exception {
    String hash = cp.publish(config(10));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream printOut = new PrintStream(out, true, StandardCharsets.UTF_8);
    PrintStream printErr =
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Thread thread =
        new Thread(
            () ->
                exit.complete(
                    AgentMain.run(baseArgs().toArray(new String[0]), printOut, printErr)));
    thread.start();
    await().until(() -> out.toString(StandardCharsets.UTF_8).contains(hash));

    thread.interrupt();

    assertThat(exit.get(30, TimeUnit.SECONDS)).isEqualTo(AgentMain.EXIT_OK);
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertThat(lines.get(lines.size() - 1)).startsWith("{\"event\":\"stopped\"");
  }

  @ParameterizedTest
  @ValueSource(strings = {"TERM", "INT"})
  void signalStopsTheAgentCleanlyWithExitStatus0(String signal) throws Exception {
    String hash = cp.publish(config(9));
    Path stderr = dir.resolve("agent.err");
    try (CommandProcess process =
        new CommandProcess(AgentMain.class, List.of(), baseArgs(), stderr)) {
      process.awaitLine(
          l -> l.contains("snapshot_applied") && l.contains(hash),
          "snapshot_applied " + hash,
          Duration.ofSeconds(60));

      process.signal(signal);

      assertThat(process.exitCode()).as(process.err()).isEqualTo(AgentMain.EXIT_OK);
      List<String> lines = process.out();
      assertThat(lines.get(lines.size() - 1)).startsWith("{\"event\":\"stopped\"");
      assertThat(process.err()).contains("SIG" + signal + " received");
    }
  }
}
