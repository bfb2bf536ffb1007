package dev.configsync.agent;

import static dev.configsync.cli.testing.ArgumentEdits.add;
import static dev.configsync.cli.testing.ArgumentEdits.bad;
import static dev.configsync.cli.testing.ArgumentEdits.remove;
import static dev.configsync.cli.testing.ArgumentEdits.replace;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.testkit.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each bad command line exits with 2, names the problem on stderr and prints nothing on stdout. */
class BadArgumentsTest {
  @TempDir Path dir;
  private Path certs;

  @BeforeEach
  void writeCertificates() {
    certs = TestPki.create().writeDataPlaneFiles(dir.resolve("pki"));
  }

  /** A command line that would start an agent (nothing listens on port 9: it would retry). */
  private List<String> valid() {
    return new ArrayList<>(
        List.of(
            "run",
            "--control-plane",
            "wss://127.0.0.1:9",
            "--cert",
            certs.resolve("dp.crt").toString(),
            "--key",
            certs.resolve("dp.key").toString(),
            "--ca",
            certs.resolve("ca.crt").toString(),
            "--cache-dir",
            dir.resolve("cache").toString()));
  }

  static Stream<Arguments> badCommandLines() {
    return Stream.of(
        bad("missing --cert", remove("--cert"), "Missing required option", "--cert"),
        bad("missing --cache-dir", remove("--cache-dir"), "Missing required option", "--cache-dir"),
        bad("non-wss URL", replace("--control-plane", "https://127.0.0.1:9"), "wss://"),
        bad("ws URL", replace("--control-plane", "ws://127.0.0.1:9"), "wss://"),
        bad("URL without host", replace("--control-plane", "wss:///v1/outlet"), "host"),
        bad(
            "URL with a query",
            replace("--control-plane", "wss://127.0.0.1:9/?node_id=1"),
            "--control-plane",
            "query"),
        bad(
            "missing --control-plane",
            remove("--control-plane"),
            "Missing required option",
            "--control-plane"),
        bad(
            "second URL not wss",
            add("--control-plane", "https://127.0.0.1:10"),
            "wss://",
            "https://127.0.0.1:10"),
        bad("second URL without host", add("--control-plane", "wss:///v1/outlet"), "host"),
        bad(
            "the same replica twice",
            add("--control-plane", "wss://127.0.0.1:9/v1/outlet"),
            "--control-plane",
            "twice"),
        bad(
            "comma-separated addresses",
            replace("--control-plane", "wss://127.0.0.1:9,wss://127.0.0.1:10"),
            "--control-plane takes one address; repeat the flag"),
        bad("bad duration", add("--heartbeat", "5 parsecs"), "--heartbeat", "5 parsecs"),
        bad("zero heartbeat", add("--heartbeat", "0s"), "--heartbeat", "positive"),
        bad(
            "max below min",
            add("--reconnect-min", "2s", "--reconnect-max", "1s"),
            "--reconnect-max",
            "--reconnect-min"),
        bad("bad label", add("--label", "novalue"), "--label", "KEY=VALUE"),
        bad("label without key", add("--label", "=v"), "--label"),
        bad(
            "capability without version",
            add("--capability", "key-auth"),
            "--capability",
            "NAME=VERSION"),
        bad(
            "capability without name",
            add("--capability", "=3.4.0"),
            "--capability",
            "plugin name"),
        bad(
            "capability version not a version",
            add("--capability", "key-auth=latest"),
            "--capability",
            "MAJOR.MINOR"),
        bad(
            "capability version with a line break",
            add("--capability", "key-auth=3.4.0\nforged"),
            "--capability",
            "MAJOR.MINOR",
            "\\u000a"),
        bad(
            "capability name with a space",
            add("--capability", "key auth=3.4.0"),
            "--capability",
            "plugin name"),
        bad(
            "the same capability twice",
            add("--capability", "key-auth=3.4.0", "--capability", "key-auth=2.0.0"),
            "--capability",
            "key-auth",
            "twice"),
        bad(
            "node version not a version",
            add("--node-version", "banana"),
            "--node-version",
            "banana"),
        bad(
            "node version with an escape sequence",
            add("--node-version", "0.1.0\u001b[31m"),
            "--node-version",
            "\\u001b"),
        bad(
            "shared cluster mode with a CA",
            add("--cluster-mode", "shared"),
            "--ca is not used with --cluster-mode shared"),
        bad(
            "pki cluster mode without a CA",
            remove("--ca"),
            "--ca is required with --cluster-mode pki"),
        bad(
            "both passphrase flags",
            add("--key-passphrase-file", "pass.txt", "--key-passphrase-env", "PASS"),
            "--key-passphrase-file and --key-passphrase-env are alternatives"),
        bad(
            "unreadable passphrase file",
            add("--key-passphrase-file", "no-such-passphrase.txt"),
            "--key-passphrase-file no-such-passphrase.txt cannot be read"),
        bad(
            "passphrase variable not set",
            add("--key-passphrase-env", "CONFIGSYNC_TEST_NO_SUCH_VARIABLE"),
            "--key-passphrase-env: the environment variable CONFIGSYNC_TEST_NO_SUCH_VARIABLE is"
                + " not set or empty"),
        bad("unknown cluster mode", add("--cluster-mode", "psk"), "--cluster-mode"),
        bad(
            "fallback config",
            add("--fallback-config", "no-such-kong.yml"),
            "--fallback-config no-such-kong.yml cannot be read"),
        bad(
            "license key that is not a key",
            add("--license-key", "no-such-key.pem"),
            "--license-key no-such-key.pem is not a readable Ed25519 public key"),
        bad("unknown flag", add("--colour", "blue"), "--colour"),
        bad("empty on-change", add("--on-change", " "), "--on-change"),
        bad("bad server name", add("--server-name", "a b"), "--server-name"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badCommandLines")
  void badArgumentsExitWith2(
      String name, UnaryOperator<List<String>> change, List<String> expectedInMessage) {
    Result result = run(change.apply(valid()));

    assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains(expectedInMessage);
    assertThat(result.out()).isEmpty();
  }

  @Test
  void anUnknownOutputFormatOrAFormatWithoutOutputExitsWith2() {
    Result unknown =
        run(add("--output", dir.resolve("o.txt").toString(), "--format", "toml").apply(valid()));
    assertThat(unknown.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(unknown.err()).contains("--format must be json or yaml, got: toml");

    Result alone = run(add("--format", "yaml").apply(valid()));
    assertThat(alone.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(alone.err()).contains("--format applies to the --output file");
  }

  @Test
  void unreadableKeyFileExitsWith2NamingTheFile() {
    Path missing = dir.resolve("nope.key");
    Result result = run(replace("--key", missing.toString()).apply(valid()));

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("--key", missing.toString(), "cannot read");
    assertThat(result.out()).isEmpty();
  }

  @Test
  void keyFileWithoutKeyExitsWith2() throws Exception {
    Path garbage = Files.writeString(dir.resolve("garbage.key"), "not a key\n");
    Result result = run(replace("--key", garbage.toString()).apply(valid()));

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("--key", garbage.toString());
    assertThat(result.out()).isEmpty();
  }

  @Test
  void keyOfAnotherCertificateExitsWith2() {
    Path other = TestPki.create("other").writeDataPlaneFiles(dir.resolve("other"));
    Result result = run(replace("--key", other.resolve("dp.key").toString()).apply(valid()));

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("dp.key");
    assertThat(result.out()).isEmpty();
  }

  @Test
  void keyFileGivenAsCertTooNamesCert() {
    Path key = certs.resolve("dp.key");
    Result result = run(replace("--cert", key.toString()).apply(valid()));

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("--cert: " + key + ": no certificate found");
    assertThat(result.err()).doesNotContain("--key:");
    assertThat(result.out()).isEmpty();
  }

  @Test
  void certificateGivenAsKeyTooNamesKey() {
    Path certificate = certs.resolve("dp.crt");
    Result result = run(replace("--key", certificate.toString()).apply(valid()));

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("--key: " + certificate);
    assertThat(result.err()).doesNotContain("--cert:");
    assertThat(result.out()).isEmpty();
  }

  @Test
  void cacheDirThatIsAFileExitsWith2() throws Exception {
    Path file = Files.writeString(dir.resolve("a-file"), "x");
    Result result = run(replace("--cache-dir", file.toString()).apply(valid()));

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("--cache-dir");
    assertThat(result.out()).isEmpty();
  }

  @Test
  void noCommandExitsWith2() {
    Result result = run(List.of());

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("run, load, hash, status or license");
    assertThat(result.out()).isEmpty();
  }

  @Test
  void helpAndVersionGoToStdoutWithExit0() {
    Result help = run(List.of("--help"));
    assertThat(help.exit()).isZero();
    assertThat(help.out()).contains("Usage: configsync-agent", "run", "load", "hash", "license");

    Result runHelp = run(List.of("run", "--help"));
    assertThat(runHelp.exit()).isZero();
    assertThat(runHelp.out())
        .contains(
            "--control-plane",
            "--cert",
            "--key",
            "--key-passphrase-file",
            "--key-passphrase-env",
            "--ca",
            "--server-name",
            "--cluster-mode",
            "--cache-dir",
            "--fallback-config",
            "--output",
            "--on-change",
            "--heartbeat",
            "--reconnect-min",
            "--reconnect-max",
            "--label");

    Result version = run(List.of("--version"));
    assertThat(version.exit()).isZero();
    assertThat(version.out().trim())
        .isEqualTo("configsync-agent " + dev.configsync.cli.CommandVersion.buildVersion());
    Result shortVersion = run(List.of("-V"));
    assertThat(shortVersion.exit()).isZero();
    assertThat(shortVersion.out()).isEqualTo(version.out());
  }

  record Result(int exit, String out, String err) {}

  static Result run(List<String> args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit =
        AgentMain.run(
            args.toArray(new String[0]),
            new PrintStream(out, true, UTF_8),
            new PrintStream(err, true, UTF_8));
    return new Result(exit, out.toString(UTF_8), err.toString(UTF_8));
  }
}
