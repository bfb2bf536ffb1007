package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code configsync-agent status} against a running agent, a stopped one, and no agent. */
class StatusCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private static JsonNode line(BadArgumentsTest.Result result) throws Exception {
    List<String> lines = result.out().lines().toList();
    assertThat(lines).as(result.err()).hasSize(1);
    return JSON.readTree(lines.get(0));
  }

  @Test
  void showsTheRunningAgentsStatusThenTheLastOneOnceItStopped() throws Exception {
    TestPki pki = TestPki.create();
    Path cache = dir.resolve("cache");
    Path certs = pki.writeDataPlaneFiles(dir.resolve("pki"));
    try (TestControlPlane cp = TestControlPlane.start(pki)) {
      String hash = cp.publish("{\"services\":[]}");
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
                  "--server-name",
                  "localhost",
                  "--cache-dir",
                  cache.toString(),
                  "--heartbeat",
                  "200ms"));
      try {
        await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> agent.hasEvent("snapshot_applied", e -> true));
        // The file follows within a second.
        JsonNode status =
            await()
                .atMost(Duration.ofSeconds(10))
                .until(
                    () ->
                        line(
                            BadArgumentsTest.run(
                                List.of("status", "--cache-dir", cache.toString()))),
                    s ->
                        s.path("hash").asText().equals(hash)
                            && s.path("cache_state").asText().equals("current"));
        BadArgumentsTest.Result result =
            BadArgumentsTest.run(List.of("status", "--cache-dir", cache.toString()));
        assertThat(result.exit()).isEqualTo(AgentMain.EXIT_OK);
        assertThat(status.path("running").asBoolean()).isTrue();
        assertThat(status.path("state").asText()).isEqualTo("connected");
        assertThat(status.path("source").asText()).isEqualTo("control_plane");
        assertThat(status.path("serving").asBoolean()).isTrue();
        assertThat(status.path("license_state").asText()).isEqualTo("none");
        assertThat(status.path("usage").path("link").asText()).isEqualTo("idle");
        assertThat(status.has("last_contact")).isTrue();
        assertThat(status.has("last_error")).isFalse();
      } finally {
        assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
      }
      BadArgumentsTest.Result after =
          BadArgumentsTest.run(List.of("status", "--cache-dir", cache.toString()));
      assertThat(after.exit()).isEqualTo(AgentMain.EXIT_FAILURE);
      JsonNode last = line(after);
      assertThat(last.path("running").asBoolean()).isFalse();
      assertThat(last.path("state").asText()).isEqualTo("closed");
      assertThat(last.path("hash").asText()).isEqualTo(hash);
    }
  }

  @Test
  void saysSoWhenNoAgentEverRanAndRefusesAMissingDirectory() throws Exception {
    Files.createDirectories(dir.resolve("empty"));
    BadArgumentsTest.Result none =
        BadArgumentsTest.run(List.of("status", "--cache-dir", dir.resolve("empty").toString()));
    assertThat(none.exit()).isEqualTo(AgentMain.EXIT_FAILURE);
    assertThat(line(none).path("running").asBoolean()).isFalse();
    assertThat(line(none).path("error").asText()).contains("no status.json");

    BadArgumentsTest.Result missing =
        BadArgumentsTest.run(List.of("status", "--cache-dir", dir.resolve("nope").toString()));
    assertThat(missing.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(missing.out()).isEmpty();
  }
}
