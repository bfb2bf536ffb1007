package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.AtRestEncryption;
import dev.configsync.cli.testing.CommandProcess;
import dev.configsync.internal.ConfigHash;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --cache-key-file} / {@code --cache-key-env} on {@code run}, {@code load} and {@code hash}:
 * real mutual TLS on 127.0.0.1, real files, and one agent in a child JVM for a key in its
 * environment. No line the agent prints (events on stdout, logs on stderr) may show a secret of the
 * configuration.
 */
class AgentCacheEncryptionTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MARKER = "MARKER-agent-s3cr3t-41d7";
  private static final byte[] KEY_A = key(21);
  private static final byte[] KEY_B = key(22);

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

  @Test
  void runEncryptsTheCacheRestartsFromItAndMovesItAsideUnderAnotherKey() throws Exception {
    Path keyA = keyFile("a.key", Base64.getEncoder().encodeToString(KEY_A) + "\n");
    Path keyB = keyFile("b.key", HexFormat.of().formatHex(KEY_B));
    String hash = cp.publish(configWithSecret(1));
    ByteArrayOutputStream logs = new ByteArrayOutputStream();
    PrintStream realErr = System.err;
    System.setErr(new PrintStream(logs, true, StandardCharsets.UTF_8)); // where slf4j-simple logs
    List<RunningAgent> started = new ArrayList<>();
    try {
      RunningAgent first = start(runArgs("--cache-key-file", keyA.toString()));
      started.add(first);
      await()
          .until(() -> first.hasEvent("cache_written", e -> e.path("hash").asText().equals(hash)));
      assertThat(first.stop()).isEqualTo(AgentMain.EXIT_OK);
      byte[] onDisk = Files.readAllBytes(cache.resolve("config.json.gz"));
      assertThat(AtRestEncryption.keyIdOf(onDisk)).contains(keyId(KEY_A));
      cp.stop();

      // Same key: the node restarts on its cache.
      RunningAgent second = start(runArgs("--cache-key-file", keyA.toString()));
      started.add(second);
      await()
          .until(
              () ->
                  second.hasEvent(
                      "snapshot_applied",
                      e ->
                          e.path("hash").asText().equals(hash)
                              && e.path("source").asText().equals("cache")));
      assertThat(second.stop()).isEqualTo(AgentMain.EXIT_OK);

      // Another key: the cache is damaged, moved aside (still encrypted); the node starts empty.
      RunningAgent third = start(runArgs("--cache-key-file", keyB.toString()));
      started.add(third);
      await().until(() -> third.hasEvent("started_empty", e -> true));
      JsonNode damaged = third.event("cache_damaged", e -> true).orElseThrow();
      assertThat(damaged.path("reason").asText())
          .contains("key id " + keyId(KEY_A))
          .contains(keyId(KEY_B));
      Path movedAside = cache.resolve(damaged.path("moved_to").asText());
      assertThat(Files.readAllBytes(movedAside)).isEqualTo(onDisk);
      assertThat(third.stop()).isEqualTo(AgentMain.EXIT_OK);
    } finally {
      System.setErr(realErr);
      realErr.print(logs.toString(StandardCharsets.UTF_8));
    }

    String logged = logs.toString(StandardCharsets.UTF_8);
    assertThat(logged).contains("encrypted at rest").contains(keyId(KEY_A)).doesNotContain(MARKER);
    for (RunningAgent agent : started) {
      assertThat(agent.outLines()).isNotEmpty().noneMatch(line -> line.contains(MARKER));
      assertThat(agent.err()).doesNotContain(MARKER);
    }
  }

  @Test
  void badKeyFlagsExitWith2NamingTheFlag() throws Exception {
    Path shortKey = keyFile("short.key", Base64.getEncoder().encodeToString(new byte[16]));
    Path good = keyFile("good.key", HexFormat.of().formatHex(KEY_A));

    BadArgumentsTest.Result wrongLength =
        BadArgumentsTest.run(runArgs("--cache-key-file", shortKey.toString()));
    BadArgumentsTest.Result both =
        BadArgumentsTest.run(
            runArgs("--cache-key-file", good.toString(), "--cache-key-env", "SOME_VARIABLE"));
    BadArgumentsTest.Result oldOnly =
        BadArgumentsTest.run(runArgs("--cache-old-key-file", good.toString()));
    BadArgumentsTest.Result unset =
        BadArgumentsTest.run(runArgs("--cache-key-env", "CONFIGSYNC_TEST_SURELY_UNSET_4711"));

    assertThat(wrongLength.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(wrongLength.err())
        .contains("--cache-key-file")
        .contains(shortKey.toString())
        .contains("16 bytes");
    assertThat(both.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(both.err()).contains("--cache-key-file and --cache-key-env");
    assertThat(oldOnly.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(oldOnly.err()).contains("need a current key");
    assertThat(unset.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(unset.err())
        .contains("--cache-key-env")
        .contains("CONFIGSYNC_TEST_SURELY_UNSET_4711 is not set");
    assertThat(cache.resolve("config.json.gz")).doesNotExist();
  }

  @Test
  void loadAndHashTakeTheSameKeyAndRefuseWithoutIt() throws Exception {
    cp.stop();
    Path keyA = keyFile("a.key", Base64.getEncoder().encodeToString(KEY_A));
    Path keyB = keyFile("b.key", Base64.getEncoder().encodeToString(KEY_B));
    Path file = Files.writeString(dir.resolve("kong.json"), configWithSecret(2));
    String manual = ConfigHash.configHash(JSON.readTree(configWithSecret(2)));
    Path cached = cache.resolve("config.json.gz");

    BadArgumentsTest.Result loaded = load(file, "--cache-key-file", keyA.toString());

    assertThat(loaded.exit()).as(loaded.err()).isEqualTo(AgentMain.EXIT_OK);
    byte[] encrypted = Files.readAllBytes(cached);
    assertThat(AtRestEncryption.keyIdOf(encrypted)).contains(keyId(KEY_A));
    BadArgumentsTest.Result hashed =
        BadArgumentsTest.run(
            List.of("hash", cached.toString(), "--cache-key-file", keyA.toString()));
    assertThat(hashed.out().trim()).as(hashed.err()).isEqualTo(manual);

    BadArgumentsTest.Result hashNoKey = BadArgumentsTest.run(List.of("hash", cached.toString()));
    assertThat(hashNoKey.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(hashNoKey.err()).contains("encrypted with key id " + keyId(KEY_A));
    BadArgumentsTest.Result hashWrongKey =
        BadArgumentsTest.run(
            List.of("hash", cached.toString(), "--cache-key-file", keyB.toString()));
    assertThat(hashWrongKey.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(hashWrongKey.err()).contains(keyId(KEY_A)).contains(keyId(KEY_B));

    // Without the key (or with another), load refuses rather than move the cache aside.
    for (List<String> flags :
        List.of(List.<String>of(), List.of("--cache-key-file", keyB.toString()))) {
      BadArgumentsTest.Result refused = load(file, flags.toArray(new String[0]));
      assertThat(refused.exit()).as(flags.toString()).isEqualTo(AgentMain.EXIT_USAGE);
      assertThat(refused.err()).contains("is encrypted with key id " + keyId(KEY_A));
      assertThat(Files.readAllBytes(cached)).isEqualTo(encrypted);
      try (Stream<Path> files = Files.list(cache)) {
        assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains("broken"));
      }
    }

    // Rotation: B is current, A old. The next run starts from the manual configuration.
    RunningAgent agent =
        start(
            runArgs("--cache-key-file", keyB.toString(), "--cache-old-key-file", keyA.toString()));
    await()
        .until(
            () ->
                agent.hasEvent(
                    "snapshot_applied",
                    e ->
                        e.path("hash").asText().equals(manual)
                            && e.path("source").asText().equals("manual")));
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
    assertThat(AtRestEncryption.keyIdOf(Files.readAllBytes(cached))).contains(keyId(KEY_B));
    assertThat(loaded.out() + loaded.err() + hashed.err() + agent.err()).doesNotContain(MARKER);
    assertThat(agent.outLines()).noneMatch(line -> line.contains(MARKER));
  }

  @Test
  void anAgentInAnotherProcessTakesItsKeyFromTheEnvironment() throws Exception {
    String hash = cp.publish(configWithSecret(3));
    Path stderr = dir.resolve("agent.err");
    List<String> lines;
    try (CommandProcess process =
        new CommandProcess(
            AgentMain.class,
            List.of(),
            Map.of("CONFIGSYNC_CACHE_KEY", HexFormat.of().formatHex(KEY_A)),
            runArgs("--cache-key-env", "CONFIGSYNC_CACHE_KEY"),
            stderr)) {
      process.awaitLine(
          l -> l.contains("cache_written") && l.contains(hash),
          "cache_written " + hash,
          Duration.ofSeconds(60));
      assertThat(process.stop()).as(process.err()).isEqualTo(AgentMain.EXIT_OK); // SIGTERM
      lines = process.out();
    }

    byte[] onDisk = Files.readAllBytes(cache.resolve("config.json.gz"));
    assertThat(AtRestEncryption.keyIdOf(onDisk)).contains(keyId(KEY_A));
    String logged = Files.readString(stderr);
    assertThat(logged).contains("encrypted at rest").doesNotContain(MARKER);
    assertThat(logged).doesNotContain(HexFormat.of().formatHex(KEY_A));
    assertThat(lines).noneMatch(line -> line.contains(MARKER));
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** A configuration holding {@link #MARKER} as a consumer credential and a private key. */
  private static String configWithSecret(int version) {
    return "{\"_format_version\":\"3.0\","
        + "\"services\":[{\"name\":\"s"
        + version
        + "\",\"url\":\"http://backend:8080\"}],"
        + "\"consumers\":[{\"username\":\"alice\",\"keyauth_credentials\":[{\"key\":\""
        + MARKER
        + "\"}]}],"
        + "\"certificates\":[{\"cert\":\"-----BEGIN CERTIFICATE-----\","
        + "\"key\":\"-----BEGIN PRIVATE KEY-----"
        + MARKER
        + "\"}]}";
  }

  private List<String> runArgs(String... more) {
    Path certs = pki.writeDataPlaneFiles(dir.resolve("pki"));
    List<String> args =
        new ArrayList<>(
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
    args.addAll(List.of(more));
    return args;
  }

  private BadArgumentsTest.Result load(Path file, String... more) {
    List<String> args = new ArrayList<>(List.of("load", file.toString(), "--cache-dir"));
    args.add(cache.toString());
    args.addAll(List.of(more));
    return BadArgumentsTest.run(args);
  }

  private RunningAgent start(List<String> args) {
    RunningAgent agent = new RunningAgent(args);
    agents.add(agent);
    return agent;
  }

  private Path keyFile(String name, String content) throws IOException {
    Path file = Files.writeString(dir.resolve(name), content);
    if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }
    return file;
  }

  private static String keyId(byte[] key) {
    return AtRestEncryption.fromKey(key).keyId();
  }

  private static byte[] key(int seed) {
    byte[] key = new byte[32];
    new Random(seed).nextBytes(key);
    return key;
  }
}
