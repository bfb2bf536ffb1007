package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.ServerTls;
import dev.configsync.testkit.PrometheusText;
import dev.configsync.testkit.TestPki;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --metrics-listen} and the control plane's {@code GET /metrics}, scraped over real sockets
 * from a real agent connected to a real control plane; and the example alert rules and dashboard in
 * {@code examples/monitoring}, whose metric names must all be on those pages.
 */
class AgentMetricsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKEN = "agent-metrics-token-0123456789";
  private static final Duration HEARTBEAT = Duration.ofSeconds(1);
  private static final Path MONITORING =
      Path.of("..", "examples", "monitoring").toAbsolutePath().normalize();
  private static final Pattern METRIC = Pattern.compile("\\bconfigsync_[a-z0-9_]+\\b");

  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
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
            .admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .adminToken(TOKEN)
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

  private RunningAgent start(String... more) {
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
                dir.resolve("cache").toString(),
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

  private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return http.send(
        request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static PrometheusText page(HttpResponse<String> response) {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValue("text/plain; version=0.0.4; charset=utf-8");
    return PrometheusText.parse(response.body());
  }

  /** The agent's metrics address, from status.json, once it is listening. */
  private String metricsAddress() {
    Path status = dir.resolve("cache").resolve(StatusFile.FILE_NAME);
    return await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                Files.isRegularFile(status)
                    ? JSON.readTree(status.toFile()).path("metrics_address").asText("")
                    : "",
            a -> !a.isEmpty());
  }

  @Test
  void bothEndpointsAreScrapedAndTheExamplesUseOnlyTheirNames() throws Exception {
    String hash = cp.publish(AgentRunTest.config(1)).hash();
    RunningAgent agent = start("--metrics-listen", "127.0.0.1:0");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(hash)));
    String address = metricsAddress();
    assertThat(address).startsWith("127.0.0.1:").doesNotEndWith(":0");

    PrometheusText agentPage =
        page(send(HttpRequest.newBuilder(URI.create("http://" + address + "/metrics")).GET()));
    assertThat(agentPage.value("configsync_connected")).isEqualTo(1);
    assertThat(agentPage.value("configsync_serving")).isEqualTo(1);
    assertThat(agentPage.value("configsync_applies_total", "source", "control_plane")).isEqualTo(1);
    assertThat(agentPage.value("configsync_connection_state", "state", "connected")).isEqualTo(1);
    assertThat(agentPage.value("configsync_license_state", "state", "none")).isEqualTo(1);
    assertThat(agentPage.value("configsync_license_expiry")).isNaN();
    assertThat(agentPage.types()).containsEntry("configsync_applies_total", "counter");

    HttpResponse<String> elsewhere =
        send(HttpRequest.newBuilder(URI.create("http://" + address + "/other")).GET());
    assertThat(elsewhere.statusCode()).isEqualTo(404);
    HttpResponse<String> post =
        send(
            HttpRequest.newBuilder(URI.create("http://" + address + "/metrics"))
                .POST(HttpRequest.BodyPublishers.ofString("x")));
    assertThat(post.statusCode()).isEqualTo(405);

    URI cpMetrics =
        URI.create("http://127.0.0.1:" + cp.adminAddress().orElseThrow().getPort() + "/metrics");
    assertThat(send(HttpRequest.newBuilder(cpMetrics).GET()).statusCode()).isEqualTo(401);
    PrometheusText cpPage =
        page(
            send(
                HttpRequest.newBuilder(cpMetrics)
                    .header("Authorization", "Bearer " + TOKEN)
                    .GET()));
    assertThat(cpPage.value("configsync_cp_data_planes_connected")).isEqualTo(1);
    assertThat(cpPage.value("configsync_cp_data_planes_in_sync")).isEqualTo(1);
    assertThat(cpPage.value("configsync_cp_publishes_total", "outcome", "changed")).isEqualTo(1);

    Set<String> exposed = new TreeSet<>(agentPage.names());
    exposed.addAll(cpPage.names());
    String rules = Files.readString(MONITORING.resolve("alerts.yml"), StandardCharsets.UTF_8);
    String dashboard =
        Files.readString(MONITORING.resolve("grafana-dashboard.json"), StandardCharsets.UTF_8);
    JsonNode ruleTree = new YAMLMapper().readTree(rules);
    JsonNode dashboardTree = JSON.readTree(dashboard);
    List<String> expressions = new ArrayList<>();
    ruleTree
        .path("groups")
        .forEach(g -> g.path("rules").forEach(r -> expressions.add(r.path("expr").asText())));
    dashboardTree
        .path("panels")
        .forEach(p -> p.path("targets").forEach(t -> expressions.add(t.path("expr").asText())));
    assertThat(expressions).hasSizeGreaterThan(10).doesNotContain("");
    Set<String> used = new TreeSet<>();
    for (String expr : expressions) {
      Matcher m = METRIC.matcher(expr);
      while (m.find()) {
        used.add(m.group());
      }
    }
    assertThat(used).hasSizeGreaterThan(15);
    assertThat(exposed).as("names the endpoints expose").containsAll(used);
    // Every name on either page is documented in observability.md, and every documented name is
    // on a page (a labelled counter appears at its first increment: no refusal happened here).
    String docs =
        Files.readString(
            Path.of("..", "docs", "observability.md").toAbsolutePath().normalize(),
            StandardCharsets.UTF_8);
    String section =
        docs.substring(docs.indexOf("## Prometheus endpoints"), docs.indexOf("## Log lines"));
    Set<String> documented = new TreeSet<>();
    Matcher d = METRIC.matcher(section);
    while (d.find()) {
      documented.add(d.group());
    }
    for (String name : exposed) {
      String family = name.replaceFirst("_(count|sum|max|bucket)$", "");
      assertThat(documented).as("documented names").contains(family);
    }
    Set<String> notYet = new TreeSet<>(documented);
    notYet.removeAll(exposed);
    assertThat(notYet).containsExactly("configsync_rejects_total");
    for (String alert :
        List.of(
            "ConfigsyncNodeDisconnected",
            "ConfigsyncStaleConfiguration",
            "ConfigsyncWithheldNodes",
            "ConfigsyncLicenseExpiring",
            "ConfigsyncUsageBacklog")) {
      assertThat(rules).contains("alert: " + alert);
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "nope",
        "127.0.0.1",
        "127.0.0.1:",
        ":9464",
        "127.0.0.1:65536",
        "::1:9464",
        "127.0.0.1:x"
      })
  void aBadMetricsAddressExitsWith2NamingTheFlag(String value) throws Exception {
    RunningAgent agent = start("--metrics-listen", value);
    assertThat(agent.exitCode()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(agent.err()).contains("--metrics-listen");
    assertThat(agent.outLines()).isEmpty();
  }

  @Test
  void anAddressInUseExitsWith2NamingTheFlag() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      RunningAgent agent = start("--metrics-listen", "127.0.0.1:" + taken.getLocalPort());
      assertThat(agent.exitCode()).isEqualTo(AgentMain.EXIT_USAGE);
      assertThat(agent.err()).contains("--metrics-listen").contains("cannot be used");
    }
  }

  @Test
  void withoutTheFlagNothingListens() throws Exception {
    String hash = cp.publish(AgentRunTest.config(1)).hash();
    RunningAgent agent = start();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> agent.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(hash)));
    Path status = dir.resolve("cache").resolve(StatusFile.FILE_NAME);
    await().atMost(Duration.ofSeconds(30)).until(() -> Files.isRegularFile(status));
    assertThat(JSON.readTree(status.toFile()).has("metrics_address")).isFalse();
  }
}
