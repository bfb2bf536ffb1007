package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.License;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.license.LicenseSigner;
import dev.configsync.testkit.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class LicenseCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private static BadArgumentsTest.Result run(String... args) {
    return BadArgumentsTest.run(List.of(args));
  }

  private Path keygen() throws Exception {
    Path keys = dir.resolve("keys");
    BadArgumentsTest.Result result = run("license", "keygen", "--out", keys.toString());
    assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_OK);
    return keys;
  }

  private List<String> issueArgs(Path keys) {
    return new ArrayList<>(
        List.of(
            "license",
            "issue",
            "--signing-key",
            keys.resolve("license-signing.key").toString(),
            "--customer",
            "Example Co",
            "--license-key",
            "KEY-1234-5678",
            "--created",
            "2025-01-01",
            "--expires",
            "2099-12-31"));
  }

  private LicenseVerifier verifier(Path keys) throws Exception {
    return LicenseVerifier.fromPem(Files.readString(keys.resolve("license-signing.pub")));
  }

  @Test
  void keygenThenIssueThenVerify() throws Exception {
    Path keys = keygen();

    Path key = keys.resolve("license-signing.key");
    Path pub = keys.resolve("license-signing.pub");
    assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----\n");
    assertThat(Files.readString(pub)).startsWith("-----BEGIN PUBLIC KEY-----\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
    try (Stream<Path> files = Files.list(keys)) {
      assertThat(files).containsExactlyInAnyOrder(key, pub); // no temporary file left
    }
    List<String> args = issueArgs(keys);
    args.addAll(List.of("--product", "Enterprise", "--dataplanes", "3"));

    BadArgumentsTest.Result issued = BadArgumentsTest.run(args);

    assertThat(issued.exit()).as(issued.err()).isEqualTo(AgentMain.EXIT_OK);
    assertThat(issued.out().lines()).hasSize(1);
    JsonNode document = JSON.readTree(issued.out());
    assertThat(document.path("license").path("payload").path("customer").asText())
        .isEqualTo("Example Co");
    JsonNode table = LicenseSigner.withLicense(JSON.readTree(AgentRunTest.config(1)), document);
    License license = verifier(keys).verify(table);
    assertThat(license.customer()).isEqualTo("Example Co");
    assertThat(license.licenseKey()).isEqualTo("KEY-1234-5678");
    assertThat(license.product()).isEqualTo("Enterprise");
    assertThat(license.dataplanes()).isEqualTo(3);
    assertThat(license.createdOn()).isEqualTo(LocalDate.of(2025, 1, 1));
    assertThat(license.expiresOn()).isEqualTo(LocalDate.of(2099, 12, 31));

    // Another key pair's public key does not accept it.
    Path other = dir.resolve("other");
    assertThat(run("license", "keygen", "--out", other.toString()).exit()).isZero();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> verifier(other).verify(table))
        .hasMessageContaining("signature");
  }

  @Test
  void issueWithConfigWritesALicensedCopyAsJson() throws Exception {
    Path keys = keygen();
    Path yaml =
        Files.writeString(
            dir.resolve("kong.yml"),
            """
            _format_version: "3.0"
            services:
              - name: s1
                url: http://backend:8080
            licenses:
              - payload: "an old license, replaced"
            """);
    Path out = dir.resolve("licensed.json");
    List<String> args = issueArgs(keys);
    args.addAll(List.of("--config", yaml.toString(), "--out", out.toString()));

    BadArgumentsTest.Result result = BadArgumentsTest.run(args);

    assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_OK);
    JsonNode licensed = JSON.readTree(Files.readString(out));
    assertThat(licensed.path("services").get(0).path("name").asText()).isEqualTo("s1");
    assertThat(licensed.path("licenses")).hasSize(1);
    assertThat(verifier(keys).verify(licensed).customer()).isEqualTo("Example Co");
    JsonNode printed = JSON.readTree(result.out());
    assertThat(printed.path("out").asText()).isEqualTo(out.toAbsolutePath().toString());
    assertThat(printed.path("hash").asText()).isEqualTo(ConfigHash.configHash(licensed));
    assertThat(BadArgumentsTest.run(List.of("hash", out.toString())).out().trim())
        .isEqualTo(printed.path("hash").asText());
  }

  @Test
  void keygenNeverOverwritesAKey() throws Exception {
    Path keys = keygen();
    String before = Files.readString(keys.resolve("license-signing.key"));

    BadArgumentsTest.Result again = run("license", "keygen", "--out", keys.toString());

    assertThat(again.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(again.err()).contains("license-signing.key already exists");
    assertThat(Files.readString(keys.resolve("license-signing.key"))).isEqualTo(before);
  }

  static Stream<Arguments> badIssues() {
    return Stream.of(
        Arguments.of(
            List.of("--created", "2026-06-01", "--expires", "2026-05-31"),
            List.of("--expires 2026-05-31 is before --created 2026-06-01")),
        Arguments.of(List.of("--expires", "2026-02-30"), List.of("--expires", "YYYY-MM-DD")),
        Arguments.of(List.of("--expires", "31/12/2026"), List.of("--expires", "YYYY-MM-DD")),
        Arguments.of(List.of("--created", "2026-1-1"), List.of("--created", "YYYY-MM-DD")),
        Arguments.of(List.of("--dataplanes", "-2"), List.of("--dataplanes")),
        Arguments.of(List.of("--customer", " "), List.of("--customer must not be blank")),
        Arguments.of(List.of("--config", "kong.json"), List.of("--config and --out go together")),
        Arguments.of(
            List.of("--signing-key", "MISSING"), List.of("--signing-key", "cannot be read")),
        Arguments.of(
            List.of("--signing-key", "PUBLIC"),
            List.of("--signing-key", "not an Ed25519 private key", "BEGIN PRIVATE KEY")),
        Arguments.of(
            List.of("--signing-key", "EC_KEY"), List.of("--signing-key", "not an Ed25519")));
  }

  @ParameterizedTest
  @MethodSource("badIssues")
  void badIssuesExitWith2(List<String> changes, List<String> expected) throws Exception {
    Path keys = keygen();
    Path ecKey = TestPki.create().writeDataPlaneFiles(dir.resolve("pki")).resolve("dp.key");
    List<String> args = issueArgs(keys);
    for (int i = 0; i < changes.size(); i += 2) {
      String value =
          switch (changes.get(i + 1)) {
            case "MISSING" -> dir.resolve("missing.key").toString();
            case "PUBLIC" -> keys.resolve("license-signing.pub").toString();
            case "EC_KEY" -> ecKey.toString();
            default -> changes.get(i + 1);
          };
      int at = args.indexOf(changes.get(i));
      if (at >= 0) {
        args.set(at + 1, value);
      } else {
        args.addAll(List.of(changes.get(i), value));
      }
    }

    BadArgumentsTest.Result result = BadArgumentsTest.run(args);

    assertThat(result.exit()).as(result.err()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains(expected);
    assertThat(result.out()).isEmpty();
  }

  @Test
  void expiryBeforeTodayWithoutCreatedExitsWith2() throws Exception {
    Path keys = keygen();
    String yesterday = LocalDate.now(ZoneOffset.UTC).minusDays(1).toString();

    BadArgumentsTest.Result result =
        run(
            "license",
            "issue",
            "--signing-key",
            keys.resolve("license-signing.key").toString(),
            "--customer",
            "Example Co",
            "--license-key",
            "K",
            "--expires",
            yesterday);

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("--expires " + yesterday + " is before --created", "today");
  }

  @Test
  void licenseWithoutSubcommandExitsWith2() {
    BadArgumentsTest.Result result = run("license");

    assertThat(result.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(result.err()).contains("keygen or issue");
  }
}
