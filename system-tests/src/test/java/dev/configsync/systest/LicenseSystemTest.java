package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.License;
import dev.configsync.license.LicenseSigner;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Licensing with the real tools: a signing key from {@code configsync-agent license keygen},
 * licensed configurations from {@code configsync-agent license issue}, published on {@code
 * configsync-cp} to an agent started with {@code --license-key}. A node whose license has expired
 * stops serving but keeps its connection, and a renewed license published on the control plane
 * restores it without a restart, also after a restart on an expired cache (issue 15, part 5).
 *
 * <p>The tools issue no license that has already expired (and one that expires within the test
 * would need the test to wait a day), so the expired license is signed here with the same key
 * through the library's {@link LicenseSigner}, as the tools do.
 */
class LicenseSystemTest extends SystemTest {
  private Path signingKey;
  private Path publicKey;

  @BeforeEach
  void keys() {
    Path dir = processes.dir().resolve("license-keys");
    Processes.Result keygen =
        processes.run(
            "keygen", Jars.agent(), List.of("license", "keygen", "--out", dir.toString()));
    assertThat(keygen.exit()).as(keygen.stderr()).isZero();
    signingKey = dir.resolve("license-signing.key");
    publicKey = dir.resolve("license-signing.pub");
  }

  @Test
  void anExpiredLicenseStopsServingAndARenewedOneRestoresItWithoutARestart() throws Exception {
    ControlPlaneProcess cp = controlPlane("cp");
    AgentProcess agent = agent("agent", cp, "--license-key", publicKey.toString());
    long pid = agent.process().pid();

    String valid = cp.admin().publishOk(issued("valid", 30));
    agent.awaitApplied(valid, PATIENCE);
    eventually(agent).until(() -> agent.status().path("serving").asBoolean());

    String expired = cp.admin().publishOk(expired("expired"));
    agent.awaitEvent("license_expired", e -> true, PATIENCE);
    agent.awaitApplied(expired, PATIENCE);
    // Stops serving: the proxy's file is withdrawn (the empty configuration), the agent runs on.
    agent.awaitEvent("output_withdrawn", e -> true, PATIENCE);
    assertThat(agent.output()).isEqualTo(AdminClient.JSON.createObjectNode());
    eventually(agent)
        .untilAsserted(
            () -> {
              JsonNode status = agent.status();
              assertThat(status.path("serving").asBoolean()).as("%s", status).isFalse();
              assertThat(status.path("license_state").asText()).isEqualTo("expired");
              assertThat(status.path("state").asText()).isEqualTo("connected");
            });
    assertThat(agent.process().isAlive()).as("the agent runs on, connected").isTrue();

    String renewedConfig = issued("renewed", 60);
    String renewed = cp.admin().publishOk(renewedConfig);
    agent.awaitEvent("license_renewed", e -> true, PATIENCE);
    agent.awaitApplied(renewed, PATIENCE);
    agent.awaitEvent("output_written", e -> e.path("hash").asText().equals(renewed), PATIENCE);
    assertThat(agent.output()).isEqualTo(AdminClient.JSON.readTree(renewedConfig));
    eventually(agent).until(() -> agent.status().path("serving").asBoolean());
    assertThat(agent.process().pid()).as("the same process, never restarted").isEqualTo(pid);
    assertThat(agent.events("started_empty")).hasSize(1);
  }

  @Test
  void anAgentRestartedOnAnExpiredCacheKeepsConnectingAndTakesTheRenewedLicense() throws Exception {
    ControlPlaneProcess cp = controlPlane("cp");
    AgentProcess agent = agent("agent", cp, "--license-key", publicKey.toString());
    String expired = cp.admin().publishOk(expired("expired"));
    agent.awaitEvent("cache_written", e -> e.path("hash").asText().equals(expired), PATIENCE);
    agent.awaitEvent("license_expired", e -> true, PATIENCE);

    // The node goes down with the expired license in its cache; meanwhile the operator renews it.
    agent.kill();
    String renewedConfig = issued("renewed", 60);
    String renewed = cp.admin().publishOk(renewedConfig);
    agent.restart();

    agent.awaitEvent(
        "snapshot_applied",
        e ->
            e.path("hash").asText().equals(renewed)
                && e.path("source").asText().equals("control_plane"),
        PATIENCE);
    agent.awaitEvent("license_renewed", e -> true, PATIENCE);
    agent.awaitEvent("output_written", e -> e.path("hash").asText().equals(renewed), PATIENCE);
    assertThat(agent.output()).isEqualTo(AdminClient.JSON.readTree(renewedConfig));
    eventually(agent).until(() -> agent.status().path("serving").asBoolean());
    assertThat(agent.process().isAlive()).isTrue();
    List<JsonNode> fromCache =
        agent.events("snapshot_applied").stream()
            .filter(e -> e.path("source").asText().equals("cache"))
            .toList();
    assertThat(fromCache).as("the restart began on the expired cache").isNotEmpty();
    assertThat(fromCache.get(0).path("hash").asText()).isEqualTo(expired);
  }

  /**
   * A configuration licensed by {@code configsync-agent license issue}, valid for {@code days} more
   * days; returns its JSON text.
   */
  private String issued(String version, int days) throws Exception {
    Path dir = processes.dir("licensed");
    Path plain = dir.resolve(version + ".json");
    Path out = dir.resolve(version + ".licensed.json");
    Files.writeString(plain, Configs.orders(version), StandardCharsets.UTF_8);
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    Processes.Result issue =
        processes.run(
            "issue-" + version,
            Jars.agent(),
            List.of(
                "license",
                "issue",
                "--signing-key",
                signingKey.toString(),
                "--customer",
                "System Test Co",
                "--license-key",
                "K-1",
                "--expires",
                today.plusDays(days).toString(),
                "--config",
                plain.toString(),
                "--out",
                out.toString()));
    assertThat(issue.exit()).as(issue.stderr()).isZero();
    return Files.readString(out, StandardCharsets.UTF_8);
  }

  /** A configuration whose license (same key, same customer) expired yesterday. */
  private String expired(String version) throws Exception {
    LicenseSigner signer =
        new LicenseSigner(
            LicenseSigner.readPrivateKeyPem(
                Files.readString(signingKey, StandardCharsets.US_ASCII)));
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    ObjectNode document =
        signer.sign(
            new License("System Test Co", "K-1", "", -1, today.minusDays(60), today.minusDays(1)));
    return LicenseSigner.withLicense(AdminClient.JSON.readTree(Configs.orders(version)), document)
        .toString();
  }
}
