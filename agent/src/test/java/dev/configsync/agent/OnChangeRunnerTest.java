package dev.configsync.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnChangeRunnerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final List<OnChangeRunner> runners = new ArrayList<>();

  @AfterEach
  void closeRunners() {
    runners.forEach(r -> r.close(Duration.ZERO));
  }

  private OnChangeRunner runner(String command, Duration timeout) {
    OnChangeRunner runner =
        new OnChangeRunner(
            command,
            null,
            timeout,
            new EventLines(new PrintStream(out, true, UTF_8)),
            new PrintStream(err, true, UTF_8),
            Clock.systemUTC());
    runners.add(runner);
    return runner;
  }

  private List<JsonNode> events() {
    return out.toString(UTF_8)
        .lines()
        .map(
            l -> {
              try {
                return JSON.readTree(l);
              } catch (Exception e) {
                throw new AssertionError(l, e);
              }
            })
        .toList();
  }

  @Test
  void changesDuringARunAreCoalescedIntoOneMoreRunForTheLatest() throws Exception {
    Path runs = dir.resolve("runs.txt");
    Path gate = dir.resolve("gate");
    // Each run records its hash, then waits (in the shell) until the test opens the gate.
    OnChangeRunner runner =
        runner(
            "echo \"$CONFIGSYNC_HASH\" >> '"
                + runs
                + "'; while [ ! -e '"
                + gate
                + "' ]; do sleep 0.02; done",
            Duration.ofSeconds(30));

    runner.submit("h1");
    await().until(() -> Files.exists(runs) && Files.readAllLines(runs).contains("h1"));
    runner.submit("h2");
    runner.submit("h3");
    runner.submit("h4");
    Files.createFile(gate);

    await().until(() -> events().size() == 2);
    assertThat(Files.readAllLines(runs)).containsExactly("h1", "h4");
    assertThat(events())
        .extracting(e -> e.path("event").asText() + " " + e.path("hash").asText())
        .containsExactly("on_change_finished h1", "on_change_finished h4");
    assertThat(events()).allMatch(e -> e.path("exit_code").asInt() == 0);
  }

  @Test
  void aRunPastItsTimeLimitIsKilledAndReported() {
    OnChangeRunner runner = runner("echo started; sleep 30", Duration.ofMillis(300));

    runner.submit("h1");

    await().until(() -> !events().isEmpty());
    JsonNode failed = events().get(0);
    assertThat(failed.path("event").asText()).isEqualTo("on_change_failed");
    assertThat(failed.path("hash").asText()).isEqualTo("h1");
    assertThat(failed.path("reason").asText()).contains("timed out after 300ms");
    assertThat(failed.path("duration_ms").asLong()).isBetween(300L, 10_000L);
    assertThat(err.toString(UTF_8)).contains("on-change: started");
  }

  @Test
  void anExitStatusIsReported() {
    OnChangeRunner runner = runner("exit 42", Duration.ofSeconds(30));

    runner.submit("h1");

    await().until(() -> !events().isEmpty());
    assertThat(events().get(0).path("event").asText()).isEqualTo("on_change_finished");
    assertThat(events().get(0).path("exit_code").asInt()).isEqualTo(42);
  }

  @Test
  void closeKillsARunPastTheGraceAndSkipsWaitingRequests() {
    OnChangeRunner runner = runner("echo started; sleep 30", Duration.ofSeconds(60));
    runner.submit("h1");
    await().until(() -> err.toString(UTF_8).contains("on-change: started"));
    runner.submit("h2");

    runner.close(Duration.ofMillis(100));

    assertThat(events()).hasSize(1);
    assertThat(events().get(0).path("event").asText()).isEqualTo("on_change_failed");
    assertThat(events().get(0).path("hash").asText()).isEqualTo("h1");
    assertThat(events().get(0).path("reason").asText()).contains("stopping");
    runner.submit("h3"); // ignored after close
    assertThat(events()).hasSize(1);
  }
}
