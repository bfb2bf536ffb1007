package dev.configsync.cp;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.spi.Transport;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;
import okhttp3.tls.HeldCertificate;

/** A real control plane and real data plane clients on 127.0.0.1, closed together. */
final class ControlPlaneFixture implements AutoCloseable {
  /** How often the fixture's clients ping: often, so that reported hashes show up quickly. */
  static final Duration HEARTBEAT = Duration.ofMillis(200);

  /**
   * How long either side of the fixture waits in silence before it calls the other dead: 3 s, not
   * 1.5 x the 200 ms heartbeat. At 300 ms a loaded machine dropped healthy nodes whenever one ping
   * or pong came late (seen: 414 ms). The control plane is given a heartbeat of 2 s (it drops a
   * node after 1.5 x that), the clients {@code deadAfter(3 s)}; they still ping every 200 ms. Tests
   * of liveness set short values on the builders themselves.
   */
  static final Duration SILENCE_ALLOWED = Duration.ofSeconds(3);

  /** The heartbeat the fixture's control plane expects: 1.5 x this is {@link #SILENCE_ALLOWED}. */
  static final Duration CONTROL_PLANE_HEARTBEAT = Duration.ofSeconds(2);

  final TestPki pki = TestPki.create();
  final List<ConfigSyncClient> clients = new CopyOnWriteArrayList<>();
  final List<java.io.Closeable> closeables = new ArrayList<>();
  ControlPlaneServer cp;

  ServerTls serverTls() {
    HeldCertificate cert = pki.controlPlaneCertificate();
    return ServerTls.pkiFromPem(
        cert.certificatePem(), cert.privateKeyPkcs8Pem(), pki.ca().certificatePem());
  }

  ControlPlaneServer.Builder builder() {
    return ControlPlaneServer.builder()
        .tls(serverTls())
        .listen("127.0.0.1", 0)
        .heartbeatInterval(CONTROL_PLANE_HEARTBEAT)
        .handshakeTimeout(Duration.ofSeconds(5))
        .ioThreads(2);
  }

  ControlPlaneServer start(UnaryOperator<ControlPlaneServer.Builder> settings) throws IOException {
    cp = settings.apply(builder()).start();
    return cp;
  }

  URI uri() {
    return URI.create("wss://localhost:" + cp.address().getPort());
  }

  /** {@code PUT path} with a JSON body on the control plane's admin API, answered later. */
  java.util.concurrent.CompletableFuture<java.net.http.HttpResponse<String>> adminPut(
      String path, String json) {
    return java.net.http.HttpClient.newHttpClient()
        .sendAsync(
            java.net.http.HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:" + cp.adminAddress().orElseThrow().getPort() + path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString(json))
                .build(),
            java.net.http.HttpResponse.BodyHandlers.ofString());
  }

  InetSocketAddress address() {
    return new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), cp.address().getPort());
  }

  ConfigSyncClient.Builder client(Transport transport) {
    return ConfigSyncClient.builder()
        .controlPlane(uri())
        .transport(transport)
        .heartbeatInterval(HEARTBEAT)
        .deadAfter(SILENCE_ALLOWED)
        .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(150))
        .handshakeTimeout(Duration.ofSeconds(5));
  }

  /** A started client recording its snapshots and events into the given lists. */
  ConfigSyncClient startClient(
      UnaryOperator<ConfigSyncClient.Builder> settings,
      List<ConfigSnapshot> snapshots,
      List<SyncEvent> events) {
    return startClient(OkHttpTransport.create(pki.dataPlaneTls()), settings, snapshots, events);
  }

  ConfigSyncClient startClient(
      Transport transport,
      UnaryOperator<ConfigSyncClient.Builder> settings,
      List<ConfigSnapshot> snapshots,
      List<SyncEvent> events) {
    ConfigSyncClient client =
        settings.apply(client(transport)).onSnapshot(snapshots::add).onEvent(events::add).build();
    clients.add(client);
    client.start();
    return client;
  }

  TlsConfig dataPlaneTls() {
    return pki.dataPlaneTls();
  }

  @Override
  public void close() throws java.io.IOException {
    for (ConfigSyncClient c : clients) {
      c.close();
    }
    for (java.io.Closeable c : closeables) {
      c.close();
    }
    if (cp != null) {
      cp.close();
    }
  }
}
