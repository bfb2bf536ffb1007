package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.DataPlaneSyncStatus;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.ServerTls;
import dev.configsync.testkit.TestPki;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --capability} and {@code --node-version} against the real control plane, which withholds
 * configurations from nodes that do not declare the plugins they use (the testkit's control plane
 * does not check compatibility).
 */
class AgentCapabilityTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration HEARTBEAT = Duration.ofSeconds(1);

  /** A configuration whose route uses Kong's request-termination plugin. */
  private static final String WITH_PLUGIN =
      "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"s\",\"url\":\"http://backend:8080\","
          + "\"routes\":[{\"name\":\"r\",\"paths\":[\"/closed\"],\"plugins\":[{\"name\":"
          + "\"request-termination\",\"config\":{\"status_code\":503,\"message\":\"closed\"}}]}]}]}";

  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private ControlPlaneServer cp;
  private final List<RunningAgent> agents = new ArrayList<>();

  @BeforeEach
  void startControlPlane() throws Exception {
    HeldCertificate cert = pki.controlPlaneCertificate();
    cp =
        ControlPlaneServer.builder()
            .tls(
                ServerTls.pkiFromPem(
                    cert.certificatePem(), cert.privateKeyPkcs8Pem(), pki.ca().certificatePem()))
            .listen("127.0.0.1", 0)
            .configStore(new InMemoryConfigStore())
            .heartbeatInterval(HEARTBEAT)
            .ioThreads(1)
            .start();
  }

  @AfterEach
  void stopEverything() throws Exception {
    for (RunningAgent agent : agents) {
      agent.stopIfRunning();
    }
    cp.close();
  }

  private RunningAgent start(String name, String... more) {
    Path certs = pki.writeDataPlaneFiles(dir.resolve("pki"));
    List<String> args =
        new ArrayList<>(
            List.of(
                "run",
                "--control-plane",
                "wss://127.0.0.1:" + cp.address().getPort(),
                "--cert",
                certs.resolve("dp.crt").toString(),
                "--key",
                certs.resolve("dp.key").toString(),
                "--ca",
                certs.resolve("ca.crt").toString(),
                "--cache-dir",
                dir.resolve(name).toString(),
                "--output",
                dir.resolve(name + ".json").toString(),
                "--heartbeat",
                HEARTBEAT.toMillis() + "ms",
                "--reconnect-min",
                "100ms",
                "--reconnect-max",
                "300ms"));
    args.addAll(List.of(more));
    RunningAgent agent = new RunningAgent(args);
    agents.add(agent);
    return agent;
  }

  private String nodeId(String name) throws Exception {
    Path file = dir.resolve(name).resolve("node.id");
    await().atMost(Duration.ofSeconds(20)).until(() -> Files.isRegularFile(file));
    return Files.readString(file, StandardCharsets.UTF_8).trim();
  }

  private Optional<DataPlaneInfo> dataPlane(String nodeId) {
    return cp.dataPlanes().stream().filter(d -> d.id().equals(nodeId)).findFirst();
  }

  private JsonNode status(String name) throws Exception {
    return JSON.readTree(dir.resolve(name).resolve(StatusFile.FILE_NAME).toFile());
  }

  @Test
  void aDeclaredPluginIsReceivedAndAnUndeclaredOneIsWithheld() throws Exception {
    String hash = cp.publish(WITH_PLUGIN).hash();
    RunningAgent declaring =
        start(
            "declaring",
            "--capability",
            "request-termination=3.4.0",
            "--capability=key-auth=3.4.0",
            "--node-version",
            "0.1.2");
    RunningAgent silent = start("silent");

    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                declaring.hasEvent(
                    "snapshot_applied",
                    e ->
                        e.path("hash").asText().equals(hash)
                            && e.path("source").asText().equals("control_plane")));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> declaring.hasEvent("output_written", e -> e.path("hash").asText().equals(hash)));
    JsonNode written = JSON.readTree(dir.resolve("declaring.json").toFile());
    assertThat(written.at("/services/0/routes/0/plugins/0/name").asText())
        .isEqualTo("request-termination");

    // What the declaring node told the control plane.
    DataPlaneInfo declared = dataPlane(nodeId("declaring")).orElseThrow();
    assertThat(declared.version()).isEqualTo("0.1.2");
    assertThat(declared.capabilities())
        .isEqualTo(Map.of("request-termination", "3.4.0", "key-auth", "3.4.0"));
    assertThat(declared.syncStatus()).isEqualTo(DataPlaneSyncStatus.NORMAL);

    // The other node is connected, pings, and is sent nothing: the control plane says why.
    String silentId = nodeId("silent");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                dataPlane(silentId)
                    .filter(d -> d.syncStatus() == DataPlaneSyncStatus.PLUGIN_SET_INCOMPATIBLE)
                    .isPresent());
    assertThat(dataPlane(silentId).orElseThrow().syncStatusReason())
        .contains("request-termination");
    await().atMost(Duration.ofSeconds(10)).until(() -> silent.hasEvent("connected", e -> true));
    assertThat(silent.hasEvent("snapshot_applied", e -> true)).isFalse();
    assertThat(dir.resolve("silent.json")).doesNotExist();

    // What each node shows of its declarations (the protocol tells a node nothing when it is
    // withheld from): the status.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Files.isRegularFile(dir.resolve("silent").resolve(StatusFile.FILE_NAME)));
    assertThat(status("silent").path("plugins").size()).isZero();
    assertThat(status("silent").path("node_version").asText()).isEqualTo("0.1.0");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Files.isRegularFile(dir.resolve("declaring").resolve(StatusFile.FILE_NAME)));
    assertThat(status("declaring").path("plugins").path("request-termination").asText())
        .isEqualTo("3.4.0");
    assertThat(status("declaring").path("node_version").asText()).isEqualTo("0.1.2");
  }
}
