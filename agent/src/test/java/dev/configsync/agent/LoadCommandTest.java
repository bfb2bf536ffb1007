package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.cli.DirectoryLock;
import dev.configsync.license.LicenseSigner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code load} without a control plane: bad arguments, refusals, and an agent that never answers.
 */
class LoadCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private BadArgumentsTest.Result run(String... args) {
    return BadArgumentsTest.run(List.of(args));
  }

  private Path config() throws Exception {
    return Files.writeString(dir.resolve("kong.json"), AgentRunTest.config(1));
  }

  private static Arguments bad(List<String> args, String... expectedInMessage) {
    return Arguments.of(args, List.of(expectedInMessage));
  }

  static Stream<Arguments> badCommandLines() {
    return Stream.of(
        bad(List.of("load"), "Missing required parameter", "FILE"),
        bad(List.of("load", "CONFIG"), "Missing required option", "--cache-dir"),
        bad(List.of("load", "MISSING", "--cache-dir", "CACHE"), "no such file"),
        bad(List.of("load", "DIR", "--cache-dir", "CACHE"), "not a readable regular file"),
        bad(
            List.of("load", "CONFIG", "--cache-dir", "CACHE", "--timeout", "0s"),
            "--timeout must be positive"),
        bad(
            List.of("load", "CONFIG", "--cache-dir", "CACHE", "--timeout", "soon"),
            "--timeout",
            "not a duration"),
        bad(List.of("load", "CONFIG", "--cache-dir", "CONFIG"), "--cache-dir"),
        bad(
            List.of("load", "CONFIG", "--cache-dir", "CACHE", "--license-key", "CONFIG"),
            "--license-key",
            "Ed25519"),
        bad(List.of("load", "CONFIG", "--cache-dir", "CACHE", "--forse"), "--forse"));
  }

  @ParameterizedTest
  @MethodSource("badCommandLines")
  void badArgumentsExitWith2(List<String> template, List<String> expected) throws Exception {
    Path config = config();
    List<String> args = new ArrayList<>();
    for (String arg : template) {
      args.add(
          switch (arg) {
            case "CONFIG" -> config.toString();
            case "CACHE" -> dir.resolve("cache").toString();
            case "MISSING" -> dir.resolve("missing.json").toString();
            case "DIR" -> dir.toString();
            default -> arg;
          });
    }

    BadArgumentsTest.Result result = BadArgumentsTest.run(args);

    assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains(expected);
    assertThat(result.out()).isEmpty();
  }

  @Test
  void invalidFileIsRefusedWithItsPosition() throws Exception {
    Path broken = Files.writeString(dir.resolve("broken.json"), "{\"services\": [1, 2");

    BadArgumentsTest.Result result =
        run("load", broken.toString(), "--cache-dir", dir.resolve("cache").toString());

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_FAILURE);
    assertThat(result.err()).contains(broken + ":1:");
    JsonNode answer = JSON.readTree(result.out());
    assertThat(answer.path("ok").asBoolean()).isFalse();
    assertThat(answer.path("error").asText()).contains("broken.json");
    assertThat(dir.resolve("cache/config.json.gz")).doesNotExist();
  }

  @Test
  void withALicenseKeyAnUnlicensedConfigurationIsRefused() throws Exception {
    Path key =
        Files.writeString(
            dir.resolve("license.pub"),
            LicenseSigner.publicKeyPem(LicenseSigner.generateKeyPair().getPublic()));

    BadArgumentsTest.Result result =
        run(
            "load",
            config().toString(),
            "--cache-dir",
            dir.resolve("cache").toString(),
            "--license-key",
            key.toString());

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_FAILURE);
    assertThat(result.err()).contains("license");
    assertThat(dir.resolve("cache/config.json.gz")).doesNotExist();
  }

  @Test
  void requestNobodyTakesIsWithdrawnAtTheTimeout() throws Exception {
    Path cache = dir.resolve("cache");
    DirectoryLock.createDirectory(cache);
    try (DirectoryLock held = DirectoryLock.tryAcquire(cache, AgentMain.LOCK_FILE)) {
      assertThat(held).isNotNull(); // an "agent" that never looks at incoming/

      BadArgumentsTest.Result result =
          run("load", config().toString(), "--cache-dir", cache.toString(), "--timeout", "300ms");

      assertThat(result.exit()).isEqualTo(AgentMain.EXIT_FAILURE);
      assertThat(result.err()).contains("did not take the configuration within 300ms");
      assertThat(JSON.readTree(result.out()).path("ok").asBoolean()).isFalse();
      try (Stream<Path> files = Files.list(cache.resolve("incoming"))) {
        assertThat(files).isEmpty();
      }
    }
  }

  @Test
  void requestNamesKeepTheFormatAndNothingElse() {
    UUID id = UUID.fromString("3f2b8c1e-0000-4000-8000-000000000001");
    assertThat(Incoming.extension(Path.of("/x/config.json.gz"))).isEqualTo(".json.gz");
    assertThat(Incoming.extension(Path.of("kong.yml"))).isEqualTo(".yml");
    assertThat(Incoming.extension(Path.of("a.b.c.YAML"))).isEqualTo(".c.YAML");
    assertThat(Incoming.extension(Path.of(".hidden"))).isEmpty();
    assertThat(Incoming.extension(Path.of("noext"))).isEmpty();
    assertThat(Incoming.extension(Path.of("x.force.json"))).isEqualTo(".json");
    assertThat(Incoming.extension(Path.of("x.result"))).isEmpty();
    assertThat(Incoming.extension(Path.of("x.j$on"))).isEmpty();

    String forced = Incoming.requestName(id, true, ".json.gz");
    assertThat(forced).isEqualTo("manual-" + id + ".force.json.gz");
    assertThat(Incoming.parseRequest(forced)).contains(new Incoming.Request(id, true, forced));
    String plain = Incoming.requestName(id, false, "");
    assertThat(Incoming.parseRequest(plain)).contains(new Incoming.Request(id, false, plain));
    assertThat(Incoming.parseRequest(Incoming.resultName(id))).isEmpty();
    assertThat(Incoming.isResult(Incoming.resultName(id))).isTrue();
    assertThat(Incoming.parseRequest("." + plain + ".1234.tmp")).isEmpty();
    assertThat(Incoming.parseRequest(Incoming.CLAIMED_PREFIX + plain)).isEmpty();
    assertThat(Incoming.parseRequest("manual-not-a-uuid.json")).isEmpty();
  }

  /** {@code configsync-agent load} in a process of its own, as an operator runs it. */
  private record LoadRun(int exit, List<String> out, String err) {}

  private LoadRun loadInAProcess(Path file, Path cache) throws Exception {
    List<String> command =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp",
            System.getProperty("java.class.path"),
            AgentMain.class.getName(),
            "load",
            file.toString(),
            "--cache-dir",
            cache.toString());
    Path out = dir.resolve("load.out");
    Path err = dir.resolve("load.err");
    java.lang.Process p =
        new ProcessBuilder(command)
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    return new LoadRun(
        p.exitValue(), Files.readAllLines(out), Files.readString(err, StandardCharsets.UTF_8));
  }

  private static int occurrences(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  /**
   * What an operator sees: the answer on stdout, a refusal once on stderr, and nothing of the
   * offline client that checks the file (it used to log its never-dialled control plane {@code
   * wss://offline.invalid}, "retrying in 3600000 ms", "starts EMPTY", and the refusal again).
   */
  @Test
  void loadInAProcessPrintsWhatTheOperatorNeedsOnce() throws Exception {
    Path bad = Files.writeString(dir.resolve("bad.json"), "{\"services\": [\n  {\"name\": }\n]}");
    LoadRun refused = loadInAProcess(bad, dir.resolve("cache-1"));
    assertThat(refused.exit()).as(refused.err()).isEqualTo(AgentMain.EXIT_FAILURE);
    assertThat(refused.out()).hasSize(1);
    JsonNode answer = JSON.readTree(refused.out().get(0));
    assertThat(answer.path("ok").asBoolean()).isFalse();
    assertThat(answer.path("error").asText()).contains("bad.json:2:");
    assertThat(occurrences(refused.err(), "bad.json:2:")).as(refused.err()).isEqualTo(1);
    assertThat(refused.err().lines())
        .as(refused.err())
        .containsExactly("configsync-agent: " + answer.path("error").asText());

    LoadRun loaded = loadInAProcess(config(), dir.resolve("cache-2"));
    assertThat(loaded.exit()).as(loaded.err()).isEqualTo(AgentMain.EXIT_OK);
    assertThat(loaded.out()).hasSize(1);
    assertThat(JSON.readTree(loaded.out().get(0)).path("applied").asText()).isEqualTo("cache");
    assertThat(loaded.err()).as("nothing on stderr for a load that worked").isEmpty();
    for (String internal :
        List.of("offline.invalid", "3600000", "starts EMPTY", "retrying", "node identity")) {
      assertThat(refused.err() + loaded.err()).doesNotContain(internal);
    }
  }
}
