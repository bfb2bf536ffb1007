package dev.configsync.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okio.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** How the OkHttp transport and the client handle a control plane that breaks the rules. */
class TransportFaultsTest {
  private final TestPki pki = TestPki.create();
  private final TestControlPlane cp = TestControlPlane.start(pki);
  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    clients.forEach(ConfigSyncClient::close);
    cp.close();
  }

  private ConfigSyncClient start(URI uri, TlsConfig tls, long maxPayload) {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(uri)
            .transport(OkHttpTransport.create(tls))
            .heartbeatInterval(Duration.ofMillis(200))
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(100))
            .maxPayloadBytes(maxPayload)
            .onEvent(events::add)
            .build();
    clients.add(client);
    client.start();
    return client;
  }

  private List<String> disconnectReasons() {
    return events.stream()
        .filter(SyncEvent.Disconnected.class::isInstance)
        .map(e -> ((SyncEvent.Disconnected) e).reason())
        .toList();
  }

  @Test
  void textFrameFromControlPlaneIsAProtocolErrorAndClientReconnects() {
    ConfigSyncClient client = start(cp.uri(), pki.dataPlaneTls(), 16 << 20);
    await().until(() -> client.status().state() == SyncState.CONNECTED);

    cp.sendFrame(FrameType.TEXT, ByteString.encodeUtf8("{\"type\":\"reconfigure\"}"));

    await().until(() -> disconnectReasons().stream().anyMatch(r -> r.contains("text frame")));
    await()
        .until(() -> cp.connectionCount() >= 2 && client.status().state() == SyncState.CONNECTED);
  }

  @Test
  void frameOverTheSizeCapIsRefusedBeforeItIsRead() {
    ConfigSyncClient client = start(cp.uri(), pki.dataPlaneTls(), 4096);
    await().until(() -> client.status().state() == SyncState.CONNECTED);

    cp.sendRaw(new byte[64 * 1024]);

    await().until(() -> disconnectReasons().stream().anyMatch(r -> r.contains("4096")));
    assertThat(client.current()).isEmpty();
  }

  @Test
  void closeFrameFromControlPlaneEndsTheConnectionAndClientReconnects() {
    ConfigSyncClient client = start(cp.uri(), pki.dataPlaneTls(), 16 << 20);
    await().until(() -> client.status().state() == SyncState.CONNECTED);

    cp.closeConnections(1001, "going away");

    await().until(() -> disconnectReasons().stream().anyMatch(r -> r.contains("1001")));
    await()
        .until(() -> cp.connectionCount() >= 2 && client.status().state() == SyncState.CONNECTED);
  }

  @Test
  void serverNameOverrideIsCheckedAgainstTheControlPlaneCertificate() {
    // The certificate names localhost and 127.0.0.1; dial the IP, check another name.
    URI byIp = URI.create("wss://127.0.0.1:" + cp.port());
    ConfigSyncClient wrong =
        start(byIp, pki.dataPlaneTls().withServerName("cp.example.com"), 1 << 20);
    await().until(() -> !disconnectReasons().isEmpty());
    assertThat(wrong.status().state()).isNotEqualTo(SyncState.CONNECTED);
    assertThat(disconnectReasons().get(0)).containsIgnoringCase("localhost");

    ConfigSyncClient right = start(byIp, pki.dataPlaneTls().withServerName("localhost"), 1 << 20);
    await().until(() -> right.status().state() == SyncState.CONNECTED);
  }

  @Test
  void controlPlaneDroppingConnectionsIsSurvived() {
    String hash = cp.publish("{\"services\":[{\"name\":\"a\"}]}");
    ConfigSyncClient client = start(cp.uri(), pki.dataPlaneTls(), 16 << 20);
    await().until(() -> hash.equals(client.status().hash()));

    for (int i = 0; i < 3; i++) {
      int before = cp.connectionCount();
      cp.dropConnections();
      await().until(() -> cp.connectionCount() > before);
    }

    await().until(() -> client.status().state() == SyncState.CONNECTED);
    assertThat(client.status().hash()).isEqualTo(hash);
    assertThat(client.status().applied()).isEqualTo(1);
  }

  @Test
  void malformedPingPayloadIsNeverSentByTheClient() {
    ConfigSyncClient client = start(cp.uri(), pki.dataPlaneTls(), 16 << 20);
    await().until(() -> client.status().state() == SyncState.CONNECTED);
    String nodeId = client.status().nodeId().toString();
    await().until(() -> cp.reportedHashes(nodeId).size() >= 3);

    assertThat(cp.violations()).isEmpty();
    cp.sendFrame(FrameType.PING, ByteString.encodeUtf8("server ping"));
    await().until(() -> cp.reportedHashes(nodeId).size() >= 5);
    assertThat(cp.violations()).isEmpty();
    assertThat(client.status().state()).isEqualTo(SyncState.CONNECTED);
  }

  @Test
  void closingWhileTheHandshakeHangsAbandonsTheAttempt() throws Exception {
    // A "control plane" that accepts TCP and then says nothing, not even TLS.
    try (java.net.ServerSocket silent =
        new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      ConfigSyncClient client =
          start(
              URI.create("wss://127.0.0.1:" + silent.getLocalPort()), pki.dataPlaneTls(), 1 << 20);
      java.net.Socket accepted = silent.accept();
      assertThat(client.status().state()).isEqualTo(SyncState.CONNECTING);

      client.close();

      // The client drops the half-open attempt at once: the peer sees the connection end well
      // before the 10 s handshake timeout would have ended it anyway.
      accepted.setSoTimeout(5_000);
      int last;
      do {
        last = accepted.getInputStream().read(new byte[4096]); // the ClientHello, then the end
      } while (last > 0);
      assertThat(last).isEqualTo(-1);
      accepted.close();
    }
  }

  @Test
  void startAfterCloseIsRefused() {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(cp.uri())
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .build();
    client.close();

    org.assertj.core.api.Assertions.assertThatThrownBy(client::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    assertThat(cp.connectionCount()).isZero();
  }
}
