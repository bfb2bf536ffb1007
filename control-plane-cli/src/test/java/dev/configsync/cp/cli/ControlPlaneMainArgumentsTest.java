package dev.configsync.cp.cli;

import static dev.configsync.cli.testing.ArgumentEdits.add;
import static dev.configsync.cli.testing.ArgumentEdits.bad;
import static dev.configsync.cli.testing.ArgumentEdits.remove;
import static dev.configsync.cli.testing.ArgumentEdits.replace;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.cli.DirectoryLock;
import dev.configsync.testkit.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each bad command line exits with 2 and one line on stderr naming the flag (and file), prints
 * nothing on stdout, and leaves no port bound and no store written.
 */
class ControlPlaneMainArgumentsTest {
  /** etcd endpoints that are never contacted: every command line below is refused before. */
  private static final String ETCD = "http://127.0.0.1:2379";

  private static final String ETCD_TLS = "https://127.0.0.1:2379";

  @TempDir static Path dir;
  private static Path files;

  @BeforeAll
  static void writeFiles() throws Exception {
    files = dir.resolve("pki");
    writeControlPlaneFiles(TestPki.create(), files);
    Files.writeString(files.resolve("token"), "0123456789abcdef0123456789abcdef\n");
    Files.writeString(files.resolve("short-token"), "tooshort\n");
    Files.writeString(files.resolve("spaced-token"), "0123456789abcdef 0123456789abcdef\n");
    Files.writeString(files.resolve("garbage.pem"), "not a PEM file\n");
    Files.writeString(files.resolve("bad.json"), "{\"services\": [\n  {\"name\": \"a\",}\n]}\n");
    Files.writeString(files.resolve("dup.json"), "{\"a\": 1,\n \"a\": 2}\n");
    Files.writeString(files.resolve("array.json"), "[1, 2]\n");
    Files.writeString(files.resolve("bad.yml"), "services:\n  - name: [a\n");
    Files.write(files.resolve("config.json.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 0});
    Files.writeString(files.resolve("a-file"), "x");
    Path other = dir.resolve("other");
    writeControlPlaneFiles(TestPki.create("other"), other);
    Files.copy(other.resolve("cp.key"), files.resolve("other-cp.key"));
    StringBuilder big = new StringBuilder("{\"blob\":\"");
    Random random = new Random(1);
    for (int i = 0; i < 2_000; i++) {
      big.append(Integer.toHexString(random.nextInt()));
    }
    Files.writeString(files.resolve("big.json"), big + "\"}\n");
    Path damaged = Files.createDirectories(dir.resolve("damaged-store"));
    Files.write(damaged.resolve("config.json.gz"), new byte[] {0x1f, (byte) 0x8b, 1, 2});
  }

  /** Writes {@code cp.crt}, {@code cp.key} and {@code ca.crt} as an operator would have them. */
  static Path writeControlPlaneFiles(TestPki pki, Path directory) {
    HeldCertificate cp = pki.controlPlaneCertificate();
    try {
      Files.createDirectories(directory);
      Files.writeString(directory.resolve("cp.crt"), cp.certificatePem(), US_ASCII);
      Files.writeString(directory.resolve("cp.key"), cp.privateKeyPkcs8Pem(), US_ASCII);
      Files.writeString(directory.resolve("ca.crt"), pki.ca().certificatePem(), US_ASCII);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return directory;
  }

  static String file(String name) {
    return files.resolve(name).toString();
  }

  /** A command line that starts a control plane on free ports (a test that fails would hang). */
  private static List<String> valid() {
    return new ArrayList<>(
        List.of(
            "--cert",
            file("cp.crt"),
            "--key",
            file("cp.key"),
            "--ca",
            file("ca.crt"),
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0"));
  }

  private static UnaryOperator<List<String>> both(
      UnaryOperator<List<String>> first, UnaryOperator<List<String>> second) {
    return args -> second.apply(first.apply(args));
  }

  static Stream<Arguments> badCommandLines() {
    return Stream.of(
        bad("missing --cert", remove("--cert"), "Missing required option", "--cert"),
        bad("missing --key", remove("--key"), "Missing required option", "--key"),
        bad("pki without --ca", remove("--ca"), "--cluster-mode pki", "needs --ca"),
        bad(
            "shared with --ca",
            add("--cluster-mode", "shared"),
            "--ca is not used with --cluster-mode shared"),
        bad("unknown cluster mode", add("--cluster-mode", "psk"), "--cluster-mode", "psk"),
        bad(
            "missing certificate file",
            replace("--cert", file("nope.crt")),
            "--cert",
            file("nope.crt"),
            "cannot read"),
        bad("garbage CA", replace("--ca", file("garbage.pem")), "--ca", file("garbage.pem")),
        bad(
            "key file given as --cert too",
            replace("--cert", file("cp.key")),
            "configsync-cp: --cert: " + file("cp.key") + ": no certificate found"),
        bad(
            "certificate file given as --key too",
            replace("--key", file("cp.crt")),
            "configsync-cp: --key: " + file("cp.crt")),
        bad(
            "key of another certificate",
            replace("--key", file("other-cp.key")),
            "--cert/--key",
            file("other-cp.key")),
        bad("listen without port", replace("--listen", "127.0.0.1"), "--listen", "HOST:PORT"),
        bad("listen port too big", replace("--listen", "127.0.0.1:70000"), "--listen", "65535"),
        bad(
            "listen on an unknown host",
            replace("--listen", "no-such-host.invalid:8005"),
            "--listen",
            "cannot resolve host no-such-host.invalid"),
        bad("bad admin address", replace("--admin-listen", ":8001"), "--admin-listen"),
        bad(
            "--no-admin with --admin-listen",
            add("--no-admin"),
            "--no-admin and --admin-listen contradict each other"),
        bad(
            "--no-admin with a token",
            both(remove("--admin-listen"), add("--no-admin", "--admin-token-file", file("token"))),
            "--admin-token-file",
            "--no-admin"),
        bad(
            "missing token file",
            add("--admin-token-file", file("nope-token")),
            "--admin-token-file",
            file("nope-token"),
            "no such file"),
        bad(
            "short token",
            add("--admin-token-file", file("short-token")),
            "--admin-token-file",
            "at least 16 characters"),
        bad(
            "token with whitespace",
            add("--admin-token-file", file("spaced-token")),
            "--admin-token-file",
            "without whitespace"),
        bad(
            "store that is a file",
            add("--store", file("a-file")),
            "--store",
            file("a-file"),
            "not a directory"),
        bad(
            "damaged store",
            add("--store", dir.resolve("damaged-store").toString()),
            "--store",
            "damaged"),
        bad("missing config", add("--config", file("nope.json")), "--config", file("nope.json")),
        bad(
            "invalid JSON config",
            add("--config", file("bad.json")),
            "--config " + file("bad.json") + ":2:",
            "not valid JSON"),
        bad(
            "duplicate keys in config",
            add("--config", file("dup.json")),
            "--config " + file("dup.json"),
            "Duplicate field 'a'"),
        bad(
            "config that is not an object",
            add("--config", file("array.json")),
            "--config",
            "must hold an object",
            "array"),
        bad(
            "invalid YAML config",
            add("--config", file("bad.yml")),
            "--config",
            "not valid YAML",
            file("bad.yml") + ":"),
        bad("gzip config", add("--config", file("config.json.gz")), "--config", "gzip", "--store"),
        bad(
            "config larger than --max-payload",
            add("--config", file("big.json"), "--max-payload", "1KiB"),
            "--config " + file("big.json"),
            "at most 1024"),
        bad("bad duration", add("--heartbeat", "5 parsecs"), "--heartbeat", "5 parsecs"),
        bad("zero heartbeat", add("--heartbeat", "0s"), "--heartbeat", "positive"),
        bad("days are not a unit", add("--forget-after", "14d"), "--forget-after", "14d"),
        bad("bad version", add("--version", "three"), "--version", "MAJOR.MINOR"),
        bad("capability without =", add("--capability", "rate-limiting"), "--capability"),
        bad(
            "capability with a bad version",
            add("--capability", "rate-limiting=latest"),
            "--capability",
            "rate-limiting",
            "latest"),
        bad("max payload not a size", add("--max-payload", "lots"), "--max-payload", "lots"),
        bad("max payload too small", add("--max-payload", "100"), "--max-payload", "1024"),
        bad("max payload too large", add("--max-payload", "4GiB"), "--max-payload"),
        bad("no data planes", add("--max-data-planes", "0"), "--max-data-planes"),
        bad(
            "registry budget not a size",
            add("--max-registry-bytes", "lots"),
            "--max-registry-bytes"),
        bad("registry budget zero", add("--max-registry-bytes", "0"), "--max-registry-bytes"),
        bad(
            "negative node ids per certificate",
            add("--max-node-ids-per-certificate", "-1"),
            "--max-node-ids-per-certificate"),
        bad("negative node labels", add("--max-node-labels", "-1"), "--max-node-labels"),
        bad("node plugins not a number", add("--max-node-plugins", "many"), "--max-node-plugins"),
        bad("no admin connections", add("--max-admin-connections", "0"), "--max-admin-connections"),
        bad("zero head timeout", add("--admin-head-timeout", "0s"), "--admin-head-timeout"),
        bad("body timeout too long", add("--admin-body-timeout", "2h"), "--admin-body-timeout"),
        bad("unknown flag", add("--colour", "blue"), "--colour"),
        // A replica on etcd.
        bad(
            "--etcd-ca without --etcd-endpoint",
            add("--etcd-ca", file("ca.crt")),
            "--etcd-ca is for a replica on etcd",
            "--etcd-endpoint"),
        bad(
            "--replica-name without --etcd-endpoint",
            add("--replica-name", "cp-a"),
            "--replica-name is for a replica on etcd"),
        bad(
            "--etcd-lease-ttl without --etcd-endpoint",
            add("--etcd-lease-ttl", "10s"),
            "--etcd-lease-ttl is for a replica on etcd"),
        bad(
            "--store with --etcd-endpoint",
            add("--etcd-endpoint", ETCD, "--store", dir.resolve("unused-store").toString()),
            "--store and --etcd-endpoint contradict each other"),
        bad(
            "--etcd-cert without --etcd-key",
            add(
                "--etcd-endpoint",
                ETCD_TLS,
                "--etcd-ca",
                file("ca.crt"),
                "--etcd-cert",
                file("cp.crt")),
            "--etcd-cert needs --etcd-key"),
        bad(
            "--etcd-key without --etcd-cert",
            add(
                "--etcd-endpoint",
                ETCD_TLS,
                "--etcd-ca",
                file("ca.crt"),
                "--etcd-key",
                file("cp.key")),
            "--etcd-key needs --etcd-cert"),
        bad(
            "--etcd-cert without --etcd-ca",
            add(
                "--etcd-endpoint",
                ETCD_TLS,
                "--etcd-cert",
                file("cp.crt"),
                "--etcd-key",
                file("cp.key")),
            "--etcd-cert needs --etcd-ca"),
        bad(
            "--etcd-ca with an http:// endpoint",
            add("--etcd-endpoint", ETCD, "--etcd-ca", file("ca.crt")),
            "--etcd-ca is for https:// endpoints",
            ETCD),
        bad(
            "http and https endpoints mixed",
            add("--etcd-endpoint", ETCD, "--etcd-endpoint", ETCD_TLS),
            "--etcd-endpoint",
            "all http:// or all https://"),
        bad(
            "etcd endpoint without a scheme",
            add("--etcd-endpoint", "etcd-1:2379"),
            "--etcd-endpoint",
            "'etcd-1:2379' is not an etcd client URL"),
        bad(
            "etcd endpoint without a port",
            add("--etcd-endpoint", "http://etcd-1"),
            "--etcd-endpoint",
            "'http://etcd-1' is not an etcd client URL"),
        bad(
            "etcd endpoint with a path",
            add("--etcd-endpoint", "http://127.0.0.1:2379/v3"),
            "--etcd-endpoint",
            "/v3"),
        bad(
            "replica name with a space",
            add("--etcd-endpoint", ETCD, "--replica-name", "cp a"),
            "--replica-name",
            "cp a"),
        bad(
            "etcd prefix without a trailing slash",
            add("--etcd-endpoint", ETCD, "--etcd-prefix", "/configsync"),
            "--etcd-prefix",
            "end with '/'"),
        bad(
            "etcd lease TTL below 2 s",
            add("--etcd-endpoint", ETCD, "--etcd-lease-ttl", "1s"),
            "--etcd-lease-ttl",
            "at least 2 s"),
        bad(
            "etcd request timeout not a duration",
            add("--etcd-endpoint", ETCD, "--etcd-request-timeout", "soon"),
            "--etcd-request-timeout",
            "soon"),
        bad(
            "garbage etcd CA",
            add("--etcd-endpoint", ETCD_TLS, "--etcd-ca", file("garbage.pem")),
            "--etcd-ca: " + file("garbage.pem")),
        bad(
            "etcd key file given as --etcd-cert too",
            add(
                "--etcd-endpoint",
                ETCD_TLS,
                "--etcd-ca",
                file("ca.crt"),
                "--etcd-cert",
                file("cp.key"),
                "--etcd-key",
                file("cp.key")),
            "configsync-cp: --etcd-cert: " + file("cp.key")),
        bad(
            "etcd certificate given as --etcd-key too",
            add(
                "--etcd-endpoint",
                ETCD_TLS,
                "--etcd-ca",
                file("ca.crt"),
                "--etcd-cert",
                file("cp.crt"),
                "--etcd-key",
                file("cp.crt")),
            "configsync-cp: --etcd-key: " + file("cp.crt")),
        bad(
            "etcd key of another certificate",
            add(
                "--etcd-endpoint",
                ETCD_TLS,
                "--etcd-ca",
                file("ca.crt"),
                "--etcd-cert",
                file("cp.crt"),
                "--etcd-key",
                file("other-cp.key")),
            "--etcd-cert/--etcd-key",
            file("other-cp.key")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badCommandLines")
  void badArgumentsExitWith2AndOneLine(
      String name, UnaryOperator<List<String>> change, List<String> expectedInMessage)
      throws Exception {
    try (RunningControlPlane cp = new RunningControlPlane(change.apply(valid()))) {
      int exit = cp.exitCode();

      assertThat(exit).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_USAGE);
      assertThat(cp.err()).contains(expectedInMessage);
      assertThat(cp.out()).isEmpty();
      List<String> lines = cp.err().lines().toList();
      assertThat(lines.get(0)).startsWith("configsync-cp: ");
      assertThat(lines.stream().skip(1))
          .as("only picocli's own parse errors add lines, and only these")
          .allMatch(
              l ->
                  l.startsWith("Try 'configsync-cp --help'")
                      || l.startsWith("Possible solutions: "));
    }
  }

  @Test
  void aStoreInUseByAnotherControlPlaneExitsWith2() throws Exception {
    Path store = dir.resolve("locked-store");
    try (DirectoryLock held = StoreOptions.tryLockStore(store)) {
      assertThat(held).isNotNull();
      try (RunningControlPlane cp =
          new RunningControlPlane(add("--store", store.toString()).apply(valid()))) {
        assertThat(cp.exitCode()).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_USAGE);
        assertThat(cp.err())
            .contains("--store " + store, "in use by another configsync-cp", "configsync-cp.lock");
      }
    }
  }

  @Test
  void aRefusedConfigFileLeavesTheStoreEmpty() throws Exception {
    Path store = dir.resolve("store-of-a-refused-config");
    try (RunningControlPlane cp =
        new RunningControlPlane(
            add("--store", store.toString(), "--config", file("big.json"), "--max-payload", "1024")
                .apply(valid()))) {
      assertThat(cp.exitCode()).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_USAGE);
    }
    assertThat(store.resolve("config.json.gz")).doesNotExist();
    // The lock went with the command: the store can be used again at once.
    try (DirectoryLock again = StoreOptions.tryLockStore(store)) {
      assertThat(again).isNotNull();
    }
  }

  @Test
  void dashVAndALoneDashDashVersionPrintTheProgramsVersionAsTheAgentDoes() {
    for (String flag : new String[] {"-V", "--version"}) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int exit =
          ControlPlaneMain.run(
              new String[] {flag},
              new PrintStream(out, true, UTF_8),
              new PrintStream(err, true, UTF_8));

      assertThat(exit).as(flag).isZero();
      assertThat(err.toString(UTF_8)).isEmpty();
      assertThat(out.toString(UTF_8).strip())
          .isEqualTo("configsync-cp " + dev.configsync.cli.CommandVersion.buildVersion());
    }
  }

  @Test
  void helpListsEveryFlagOnStdoutWithExit0() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit =
        ControlPlaneMain.run(
            new String[] {"--help"},
            new PrintStream(out, true, UTF_8),
            new PrintStream(err, true, UTF_8));

    assertThat(exit).isZero();
    assertThat(err.toString(UTF_8)).isEmpty();
    assertThat(out.toString(UTF_8))
        .contains(
            "Usage: configsync-cp",
            "--cert",
            "--key",
            "--ca",
            "--cluster-mode",
            "--listen",
            "--admin-listen",
            "--no-admin",
            "--admin-token-file",
            "--store",
            "--config",
            "--heartbeat",
            "--version",
            "--capability",
            "--forget-after",
            "--max-payload",
            "--max-data-planes",
            "--max-registry-bytes",
            "--max-node-ids-per-certificate",
            "--max-node-labels",
            "--max-node-plugins",
            "--max-admin-connections",
            "--admin-head-timeout",
            "--admin-body-timeout",
            "--etcd-endpoint",
            "--etcd-ca",
            "--etcd-cert",
            "--etcd-key",
            "--replica-name",
            "--etcd-prefix",
            "--etcd-lease-ttl",
            "--etcd-request-timeout",
            "--etcd-unavailable-after",
            "--etcd-flush-interval");
  }

  @Test
  void messagesAreFoldedOntoOneLine() {
    String snakeYaml =
        """
        kong.yml:2:11: while parsing a flow sequence
         in 'reader', line 2, column 11:
              - name: [a
                      ^
        expected ',' or ']', but got <stream end>
        """;
    assertThat(ControlPlaneMain.oneLine(snakeYaml))
        .isEqualTo(
            "kong.yml:2:11: while parsing a flow sequence; expected ',' or ']', but got <stream"
                + " end>");
  }
}
