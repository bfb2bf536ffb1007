package dev.configsync.cp.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.cli.testing.CommandProcess;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.testkit.TestPki;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.GZIPInputStream;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** configsync-cp started from its command line, with real data planes and real HTTP requests. */
class ControlPlaneMainRunTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKEN = "4f1c0e9a7d2b6c3e8f5a1b0c9d7e6f2a";
  private static final String KONG_YML =
      """
      _format_version: "3.0"
      services:
        - name: orders
          url: http://orders.internal:8080
      routes:
        - name: orders
          service:
            name: orders
          paths: ["/orders"]
      plugins:
        - name: rate-limiting
          config:
            minute: 600
      """;

  @TempDir Path dir;
  private final TestPki pki = TestPki.create();
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Path files;

  @BeforeEach
  void writeFiles() throws IOException {
    files = ControlPlaneMainArgumentsTest.writeControlPlaneFiles(pki, dir.resolve("pki"));
    Path token = Files.writeString(files.resolve("admin.token"), TOKEN + "\n");
    Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
    Files.writeString(files.resolve("kong.yml"), KONG_YML);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private List<String> args(String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--cert",
                files.resolve("cp.crt").toString(),
                "--key",
                files.resolve("cp.key").toString(),
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--heartbeat",
                "200ms"));
    args.addAll(List.of(more));
    return args;
  }

  private RunningControlPlane start(List<String> args) {
    RunningControlPlane cp = new RunningControlPlane(args);
    toClose.add(cp);
    return cp;
  }

  private ConfigSyncClient startNode(
      int port, TlsConfig tls, String hostname, List<SyncEvent> events) {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://localhost:" + port))
            .transport(OkHttpTransport.create(tls))
            .nodeHostname(hostname)
            .capability("rate-limiting", "3.9.0")
            .heartbeatInterval(Duration.ofMillis(200))
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(150))
            .onEvent(events::add)
            .build();
    toClose.add(client);
    client.start();
    return client;
  }

  private HttpResponse<String> admin(int port, HttpRequest.Builder request) throws Exception {
    return http.send(
        request
            .uri(URI.create("http://127.0.0.1:" + port + request.build().uri().getPath()))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create("http://unused" + path))
        .timeout(Duration.ofSeconds(10));
  }

  private static String storedHash(Path file) throws IOException {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(Files.readAllBytes(file)))) {
      return JSON.readTree(in).path("config_hash").asText();
    }
  }

  @Test
  void aYamlConfigurationPutThroughTheAdminApiReachesARealDataPlane() throws Exception {
    Path store = dir.resolve("store");
    RunningControlPlane cp =
        start(
            args(
                "--ca",
                files.resolve("ca.crt").toString(),
                "--store",
                store.toString(),
                "--admin-token-file",
                files.resolve("admin.token").toString(),
                "--capability",
                "rate-limiting=3.2.0"));
    String ready = cp.awaitReady().group();
    int port = cp.dataPlanePort();
    int adminPort = cp.adminPort();
    assertThat(port).isPositive();
    assertThat(adminPort).isPositive().isNotEqualTo(port);
    assertThat(ready)
        .contains(
            "(pki mode)",
            "admin API on http://127.0.0.1:" + adminPort + " (bearer token required)",
            "store " + store.toAbsolutePath(),
            "no configuration yet");

    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    ConfigSyncClient node = startNode(port, pki.dataPlaneTls(), "dp-cli-test", events);
    await().until(() -> node.status().state() == SyncState.CONNECTED);

    HttpResponse<String> put =
        admin(
            adminPort,
            request("/config")
                .header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "application/yaml")
                .PUT(HttpRequest.BodyPublishers.ofString(KONG_YML)));
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    String hash = JSON.readTree(put.body()).path("hash").asText();
    assertThat(hash).matches("[0-9a-f]{32}");

    await().until(() -> hash.equals(node.status().hash()));
    assertThat(node.current().orElseThrow().config().path("services").get(0).path("name").asText())
        .isEqualTo("orders");
    await()
        .until(
            () -> {
              JsonNode planes =
                  JSON.readTree(
                      admin(
                              adminPort,
                              request("/clustering/data-planes")
                                  .header("Authorization", "Bearer " + TOKEN))
                          .body());
              JsonNode first = planes.path("data").path(0);
              return first.path("hostname").asText().equals("dp-cli-test")
                  && first.path("config_hash").asText().equals(hash)
                  && first.path("connected").asBoolean()
                  && first.path("sync_status").asText().equals("normal");
            });
    HttpResponse<String> noToken = admin(adminPort, request("/status"));
    assertThat(noToken.statusCode()).isEqualTo(401);

    assertThat(cp.stop()).isEqualTo(ControlPlaneMain.EXIT_OK);
    await().until(() -> events.stream().anyMatch(e -> e instanceof SyncEvent.Disconnected));
    assertThat(node.status().hash()).isEqualTo(hash); // the node keeps serving it
    assertThat(storedHash(store.resolve("config.json.gz"))).isEqualTo(hash);
  }

  @Test
  void restartingWithTheSameConfigFileChangesNothingAndAnotherOneReplacesIt() throws Exception {
    Path store = dir.resolve("store");
    Path stored = store.resolve("config.json.gz");
    List<String> first =
        args(
            "--ca",
            files.resolve("ca.crt").toString(),
            "--no-admin",
            "--store",
            store.toString(),
            "--config",
            files.resolve("kong.yml").toString());
    first.subList(first.indexOf("--admin-listen"), first.indexOf("--admin-listen") + 2).clear();
    RunningControlPlane run1 = start(first);
    String hash = run1.awaitReady().group().replaceAll(".*, configuration ([0-9a-f]{32})$", "$1");
    assertThat(hash).matches("[0-9a-f]{32}");
    assertThat(run1.awaitReady().group()).contains("admin API off");
    assertThat(run1.stop()).isZero();
    byte[] before = Files.readAllBytes(stored);

    RunningControlPlane run2 = start(first);
    assertThat(run2.awaitReady().group()).endsWith(", configuration " + hash);
    assertThat(run2.stop()).isZero();
    // Republishing would have written a new timestamp into the stored message.
    assertThat(Files.readAllBytes(stored)).isEqualTo(before);

    Path changed = Files.writeString(files.resolve("kong-v2.yml"), KONG_YML.replace("600", "1200"));
    List<String> third = new ArrayList<>(first);
    third.set(third.indexOf("--config") + 1, changed.toString());
    RunningControlPlane run3 = start(third);
    String ready3 = run3.awaitReady().group();
    assertThat(ready3).contains(", configuration ").doesNotContain(hash);
    assertThat(run3.stop()).isZero();
    assertThat(storedHash(stored))
        .isNotEqualTo(hash)
        .isEqualTo(ready3.substring(ready3.length() - 32));
  }

  @Test
  void sharedModeAcceptsOnlyNodesPresentingTheControlPlanesOwnCertificate() throws Exception {
    RunningControlPlane cp = start(args("--cluster-mode", "shared"));
    String ready = cp.awaitReady().group();
    assertThat(ready).contains("(shared mode)", "(no token)", "store in memory (lost on restart)");
    int port = cp.dataPlanePort();

    // A node in shared mode presents the cluster certificate itself.
    HeldCertificate shared = pki.controlPlaneCertificate();
    List<SyncEvent> sharedEvents = new CopyOnWriteArrayList<>();
    ConfigSyncClient sharedNode =
        startNode(
            port,
            TlsConfig.pkiFromPem(
                shared.certificatePem(), shared.privateKeyPkcs8Pem(), pki.ca().certificatePem()),
            "dp-shared",
            sharedEvents);
    List<SyncEvent> otherEvents = new CopyOnWriteArrayList<>();
    ConfigSyncClient otherNode = startNode(port, pki.dataPlaneTls(), "dp-other", otherEvents);

    HttpResponse<String> put =
        admin(
            cp.adminPort(),
            request("/config")
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"services\":[]}")));
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    String hash = JSON.readTree(put.body()).path("hash").asText();

    await().until(() -> hash.equals(sharedNode.status().hash()));
    await().until(() -> otherEvents.stream().anyMatch(e -> e instanceof SyncEvent.Disconnected));
    assertThat(otherNode.status().hash()).isNull();
    assertThat(otherEvents).noneMatch(e -> e instanceof SyncEvent.Connected);
    assertThat(cp.stop()).isZero();
  }

  @Test
  void aDataPlanePortInUseExitsWith1NamingIt() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      List<String> args = args("--ca", files.resolve("ca.crt").toString());
      args.set(args.indexOf("--listen") + 1, "127.0.0.1:" + taken.getLocalPort());
      RunningControlPlane cp = start(args);

      assertThat(cp.exitCode()).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_FAILURE);
      assertThat(cp.err())
          .contains(
              "cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (--listen)",
              "in use",
              "another process listens on port " + taken.getLocalPort());
      assertThat(cp.err().lines()).hasSize(1);
      assertThat(cp.out()).isEmpty();
    }
  }

  @Test
  void anAdminPortInUseExitsWith1NamingIt() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      List<String> args = args("--ca", files.resolve("ca.crt").toString());
      args.set(args.indexOf("--admin-listen") + 1, "127.0.0.1:" + taken.getLocalPort());
      RunningControlPlane cp = start(args);

      assertThat(cp.exitCode()).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_FAILURE);
      assertThat(cp.err())
          .contains("cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (--admin-listen)");
      assertThat(cp.out()).isEmpty();
    }
  }

  @Test
  void aCertificateGivenAsKeyIsRefusedWithoutAWarningAboutKeyPermissions() throws Exception {
    Path certificate = files.resolve("cp.crt");
    Files.setPosixFilePermissions(certificate, PosixFilePermissions.fromString("rw-r--r--"));
    List<String> args = args("--ca", files.resolve("ca.crt").toString());
    args.set(args.indexOf("--key") + 1, certificate.toString());
    try (ControlPlaneProcess cp = new ControlPlaneProcess(args, dir.resolve("cp.err"))) {
      assertThat(cp.exitCode()).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_USAGE);
      assertThat(cp.err())
          .contains("configsync-cp: --key: " + certificate)
          .doesNotContain("chmod 600")
          .doesNotContain("private key file is accessible");
    }
  }

  @Test
  void aControlPlaneThatNeverStartedDoesNotLogThatItStopped() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      List<String> args = args("--ca", files.resolve("ca.crt").toString());
      args.set(args.indexOf("--listen") + 1, "127.0.0.1:" + taken.getLocalPort());
      try (ControlPlaneProcess cp = new ControlPlaneProcess(args, dir.resolve("cp.err"))) {
        assertThat(cp.exitCode()).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_FAILURE);
        assertThat(cp.err())
            .contains("configsync-cp: cannot listen on 127.0.0.1:" + taken.getLocalPort())
            .doesNotContain("Control plane stopped")
            .doesNotContain("Control plane listening");
        assertThat(cp.out()).isEmpty();
      }
    }
  }

  @Test
  void sigtermStopsTheProcessCleanlyWithExitStatus0() throws Exception {
    Path token = files.resolve("admin.token");
    Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-r--r--"));
    Path stderr = dir.resolve("cp.err");
    try (CommandProcess process =
        new CommandProcess(
            ControlPlaneMain.class,
            List.of(),
            args(
                "--ca", files.resolve("ca.crt").toString(), "--admin-token-file", token.toString()),
            stderr)) {
      process.awaitLine(RunningControlPlane.READY_PREFIX, Duration.ofSeconds(60));

      assertThat(process.stop()).as(process.err()).isEqualTo(ControlPlaneMain.EXIT_OK); // SIGTERM
      assertThat(process.out()).hasSize(1);
      assertThat(process.err())
          .contains(
              "SIGTERM received",
              "Control plane stopped",
              "can be read by everyone (mode rw-r--r--)",
              "No --store: the configuration is kept in memory");
    }
  }
}
