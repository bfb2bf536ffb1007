package dev.configsync.cp.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncState;
import dev.configsync.cp.etcd.EtcdCluster;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code configsync-cp} run as replicas on a real 3-member etcd cluster, each in its own JVM
 * through its {@code main}, as the commands in {@code docs/high-availability.md} run them.
 */
class ControlPlaneReplicasTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  @AutoClose private static EtcdCluster etcd;
  private static TestPki pki;
  private static Path files;

  private final HttpClient http = HttpClient.newHttpClient();
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final String prefix = "/cli-" + UUID.randomUUID() + "/";

  @BeforeAll
  static void startEtcd() throws IOException {
    EtcdCluster.requireEtcd();
    etcd = EtcdCluster.start(3);
    pki = TestPki.create();
    files = ControlPlaneMainArgumentsTest.writeControlPlaneFiles(pki, dir.resolve("pki"));
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private List<String> replica(String name) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--cert",
                files.resolve("cp.crt").toString(),
                "--key",
                files.resolve("cp.key").toString(),
                "--ca",
                files.resolve("ca.crt").toString(),
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--heartbeat",
                "1s",
                "--replica-name",
                name,
                "--etcd-prefix",
                prefix));
    for (URI endpoint : etcd.endpoints()) {
      args.add("--etcd-endpoint=" + endpoint);
    }
    return args;
  }

  private ControlPlaneProcess start(List<String> args, String name) throws IOException {
    ControlPlaneProcess cp = new ControlPlaneProcess(args, dir.resolve(name + ".err"));
    toClose.add(cp);
    return cp;
  }

  private HttpResponse<String> admin(int port, String path, HttpRequest.Builder request)
      throws Exception {
    return http.send(
        request
            .uri(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(20))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aPublishOnOneReplicaIsServedByTheOtherAndReachesItsNodes() throws Exception {
    ControlPlaneProcess a = start(replica("cp-a"), "cp-a");
    ControlPlaneProcess b = start(replica("cp-b"), "cp-b");
    String readyA = a.awaitReady().group();
    String readyB = b.awaitReady().group();
    assertThat(readyA)
        .contains("store etcd " + etcd.endpoints(), "under " + prefix, "as replica cp-a")
        .endsWith("no configuration yet");
    assertThat(readyB).contains("as replica cp-b");

    ConfigSyncClient node =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://localhost:" + b.dataPlanePort()))
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .nodeHostname("dp-on-b")
            .heartbeatInterval(Duration.ofSeconds(1))
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(150))
            .build();
    toClose.add(node);
    node.start();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> node.status().state() == SyncState.CONNECTED);

    HttpResponse<String> put =
        admin(
            a.adminPort(),
            "/config",
            HttpRequest.newBuilder()
                .header("Content-Type", "application/json")
                .PUT(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"services\":[{\"name\":\"orders\",\"url\":\"http://orders:8080\"}]}")));
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    String hash = JSON.readTree(put.body()).path("hash").asText();

    // Replica b learns it from etcd's watch: GET /config answers it, and its node runs it.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              HttpResponse<String> get = admin(b.adminPort(), "/config", HttpRequest.newBuilder());
              assertThat(get.statusCode()).as(get.body()).isEqualTo(200);
              assertThat(get.headers().firstValue("ETag")).hasValue("\"" + hash + "\"");
              assertThat(JSON.readTree(get.body()).path("services").path(0).path("name").asText())
                  .isEqualTo("orders");
            });
    await().atMost(Duration.ofSeconds(30)).until(() -> hash.equals(node.status().hash()));
    // Replica a lists b's node: the fleet is shared too.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              JsonNode planes =
                  JSON.readTree(
                      admin(a.adminPort(), "/clustering/data-planes", HttpRequest.newBuilder())
                          .body());
              JsonNode first = planes.path("data").path(0);
              return first.path("hostname").asText().equals("dp-on-b")
                  && first.path("config_hash").asText().equals(hash);
            });
    assertThat(etcd.keys(prefix)).contains(prefix + "config", prefix + "config-hash");

    assertThat(a.stop()).as(a.err()).isEqualTo(ControlPlaneMain.EXIT_OK);
    assertThat(b.stop()).as(b.err()).isEqualTo(ControlPlaneMain.EXIT_OK);
    assertThat(a.err()).contains("SIGTERM received", "Control plane stopped");
  }

  @Test
  void aReplicaStartedWithTheConfigurationEtcdHoldsChangesNothing() throws Exception {
    Path kong = Files.writeString(dir.resolve("kong.json"), "{\"services\":[]}");
    List<String> args = replica("cp-c");
    args.addAll(List.of("--config", kong.toString()));
    ControlPlaneProcess first = start(args, "cp-c-1");
    String ready = first.awaitReady().group();
    String hash = ready.replaceAll(".*, configuration ([0-9a-f]{32})$", "$1");
    assertThat(hash).matches("[0-9a-f]{32}");
    assertThat(first.stop()).isZero();
    long writes = etcd.version(prefix + "config-hash");
    assertThat(writes).isEqualTo(1);

    ControlPlaneProcess second = start(args, "cp-c-2");
    assertThat(second.awaitReady().group()).endsWith(", configuration " + hash);
    assertThat(second.err()).contains("is the configuration already in force");
    assertThat(second.stop()).isZero();
    assertThat(etcd.version(prefix + "config-hash")).isEqualTo(writes);
  }

  @Test
  void aReplicaUsesEtcdOverTlsWithItsClientCertificate() throws Exception {
    TestPki etcdPki = TestPki.create("etcd");
    HeldCertificate server = etcdPki.issue("etcd", Duration.ofDays(1)); // localhost, 127.0.0.1
    HeldCertificate client = etcdPki.issue("cp-replica", Duration.ofDays(1));
    Path tls = Files.createDirectories(dir.resolve("etcd-tls"));
    Path ca = Files.writeString(tls.resolve("etcd-ca.crt"), etcdPki.ca().certificatePem());
    Path serverCert = Files.writeString(tls.resolve("etcd.crt"), server.certificatePem());
    Path serverKey = Files.writeString(tls.resolve("etcd.key"), server.privateKeyPkcs8Pem());
    Path clientCert = Files.writeString(tls.resolve("cp.crt"), client.certificatePem());
    Path clientKey = Files.writeString(tls.resolve("cp.key"), client.privateKeyPkcs8Pem());
    HandshakeCertificates fixture =
        new HandshakeCertificates.Builder()
            .heldCertificate(client, etcdPki.ca().certificate())
            .addTrustedCertificate(etcdPki.ca().certificate())
            .build();
    try (EtcdCluster secure =
        EtcdCluster.startTls(
            1, new EtcdCluster.ServerTls(serverCert, serverKey, ca), fixture.sslContext())) {
      List<String> args = replica("cp-tls");
      args.removeIf(a -> a.startsWith("--etcd-endpoint="));
      args.addAll(
          List.of(
              "--etcd-endpoint",
              secure.endpoint(0).toString(),
              "--etcd-ca",
              ca.toString(),
              "--etcd-cert",
              clientCert.toString(),
              "--etcd-key",
              clientKey.toString()));
      RunningControlPlane cp = new RunningControlPlane(args);
      toClose.add(cp);
      assertThat(cp.awaitReady().group()).contains("store etcd [https://127.0.0.1:");

      HttpResponse<String> put =
          admin(
              cp.adminPort(),
              "/config",
              HttpRequest.newBuilder()
                  .header("Content-Type", "application/json")
                  .PUT(HttpRequest.BodyPublishers.ofString("{\"services\":[]}")));
      assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
      assertThat(secure.keys(prefix)).contains(prefix + "config", prefix + "config-hash");
      assertThat(cp.stop()).isZero();
    }
  }

  @Test
  void anUnreachableEtcdExitsWith1NamingIt() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    List<String> args = replica("cp-d");
    args.removeIf(a -> a.startsWith("--etcd-endpoint="));
    args.addAll(
        List.of(
            "--etcd-endpoint", "http://127.0.0.1:" + closed, "--etcd-request-timeout", "500ms"));
    RunningControlPlane cp = new RunningControlPlane(args);
    toClose.add(cp);

    assertThat(cp.exitCode()).as(cp.err()).isEqualTo(ControlPlaneMain.EXIT_FAILURE);
    assertThat(cp.err())
        .startsWith("configsync-cp: cannot start: cannot read the configuration from etcd")
        .contains("127.0.0.1:" + closed);
    assertThat(cp.err().lines()).hasSize(1);
    assertThat(cp.out()).isEmpty();
  }
}
