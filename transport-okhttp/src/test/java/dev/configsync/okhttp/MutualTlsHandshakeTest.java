package dev.configsync.okhttp;

import static dev.configsync.okhttp.TestPki.ca;
import static dev.configsync.okhttp.TestPki.leafEc;
import static dev.configsync.okhttp.TestPki.leafRsa;
import static dev.configsync.okhttp.TestPki.traditionalKeyPem;
import static dev.configsync.okhttp.TestPki.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.spi.Transport;
import dev.configsync.tls.PeerTrust;
import dev.configsync.tls.PemMaterial;
import java.io.IOException;
import java.net.InetAddress;
import java.net.SocketException;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real mutual-TLS handshakes on 127.0.0.1 between an SSLServerSocket (okhttp-tls material, client
 * auth required) and a client socket made from {@link TlsConfig}.
 */
class MutualTlsHandshakeTest {
  private static final int TIMEOUT_MILLIS = 10_000;
  private static final InetAddress LOOPBACK = loopback();

  private static HeldCertificate ca;
  private static HeldCertificate rogueCa;
  private static HeldCertificate serverCert;

  @TempDir Path dir;

  private ExecutorService serverThread;
  private SSLServerSocket serverSocket;

  private static InetAddress loopback() {
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  @BeforeAll
  static void makePki() {
    ca = ca("cp-ca");
    rogueCa = ca("rogue-ca");
    serverCert = leafEc("control-plane", ca);
  }

  @BeforeEach
  void startExecutor() {
    serverThread = Executors.newSingleThreadExecutor();
  }

  @AfterEach
  void stop() throws IOException {
    serverThread.shutdownNow();
    if (serverSocket != null) {
      serverSocket.close();
    }
  }

  /** Opens the server and accepts one connection in the background; yields the client subject. */
  private Future<String> serve(HeldCertificate serverIdentity, String protocol) throws IOException {
    HandshakeCertificates server =
        new HandshakeCertificates.Builder()
            .heldCertificate(serverIdentity)
            .addTrustedCertificate(ca.certificate())
            .build();
    serverSocket =
        (SSLServerSocket)
            server.sslContext().getServerSocketFactory().createServerSocket(0, 1, LOOPBACK);
    serverSocket.setNeedClientAuth(true);
    serverSocket.setEnabledProtocols(new String[] {protocol});
    serverSocket.setSoTimeout(TIMEOUT_MILLIS);
    return serverThread.submit(
        () -> {
          try (SSLSocket socket = (SSLSocket) serverSocket.accept()) {
            socket.setSoTimeout(TIMEOUT_MILLIS);
            socket.startHandshake();
            String subject = socket.getSession().getPeerPrincipal().getName();
            socket.getOutputStream().write(42);
            socket.getOutputStream().flush();
            return subject;
          }
        });
  }

  private SSLSocket connect(TlsConfig config, String protocol) throws IOException {
    SSLSocket socket =
        (SSLSocket)
            config.sslSocketFactory().createSocket("127.0.0.1", serverSocket.getLocalPort());
    socket.setSoTimeout(TIMEOUT_MILLIS);
    socket.setEnabledProtocols(new String[] {protocol});
    SSLParameters parameters = socket.getSSLParameters();
    parameters.setEndpointIdentificationAlgorithm("HTTPS"); // Checks the IP SAN 127.0.0.1.
    socket.setSSLParameters(parameters);
    return socket;
  }

  private TlsConfig clientConfig(HeldCertificate client, String keyPem) {
    return TlsConfig.pki(
        write(dir, "dp.crt", client.certificatePem()),
        write(dir, "dp.key", keyPem),
        write(dir, "ca.pem", ca.certificatePem()));
  }

  @ParameterizedTest
  @ValueSource(strings = {"TLSv1.2", "TLSv1.3"})
  void serverSeesTheClientCertificate(String protocol) throws Exception {
    for (HeldCertificate client :
        new HeldCertificate[] {leafEc("dp-ec", ca), leafRsa("dp-rsa", ca)}) {
      Future<String> peer = serve(serverCert, protocol);
      TlsConfig config = clientConfig(client, traditionalKeyPem(client));
      try (SSLSocket socket = connect(config, protocol)) {
        socket.startHandshake();
        assertThat(socket.getSession().getProtocol()).isEqualTo(protocol);
        assertThat(socket.getInputStream().read()).isEqualTo(42);
      }
      assertThat(peer.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
          .isEqualTo(client.certificate().getSubjectX500Principal().getName());
      serverSocket.close();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"TLSv1.2", "TLSv1.3"})
  void intermediatesFromTheChainFileAreSent(String protocol) throws Exception {
    // The server trusts only the root; it can only verify the leaf if the client sends the
    // intermediate that signed it.
    HeldCertificate intermediate = TestPki.intermediate("issuing-ca", ca);
    HeldCertificate client = leafEc("dp-chained", intermediate);
    Future<String> peer = serve(serverCert, protocol);
    TlsConfig config =
        TlsConfig.pki(
            write(dir, "chain.crt", client.certificatePem() + intermediate.certificatePem()),
            write(dir, "dp.key", client.privateKeyPkcs8Pem()),
            write(dir, "ca.pem", ca.certificatePem()));
    try (SSLSocket socket = connect(config, protocol)) {
      socket.startHandshake();
      assertThat(socket.getInputStream().read()).isEqualTo(42);
    }
    assertThat(peer.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)).isEqualTo("CN=dp-chained");
  }

  @ParameterizedTest
  @ValueSource(strings = {"TLSv1.2", "TLSv1.3"})
  void clientCertificateFromAnotherCaFailsTheHandshake(String protocol) throws Exception {
    Future<String> peer = serve(serverCert, protocol);
    HeldCertificate rogue = leafEc("dp-rogue", rogueCa);
    TlsConfig config = clientConfig(rogue, rogue.privateKeyPkcs8Pem());

    try (SSLSocket socket = connect(config, protocol)) {
      // With TLS 1.3 the client finishes its side of the handshake before the server has judged
      // the client certificate, so the refusal may only surface on the first read. With TLS 1.2
      // the server may have closed the socket before the client's last handshake write, which
      // then fails with "Broken pipe" or "Connection reset" instead of the server's alert.
      assertThatThrownBy(
              () -> {
                socket.startHandshake();
                socket.getInputStream().read();
              })
          .isInstanceOfAny(SSLException.class, SocketException.class);
    }
    assertThatThrownBy(() -> peer.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(SSLHandshakeException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"TLSv1.2", "TLSv1.3"})
  void serverCertificateFromAnotherCaIsNotTrusted(String protocol) throws Exception {
    Future<String> peer = serve(leafEc("impostor", rogueCa), protocol);
    HeldCertificate client = leafEc("dp-ec", ca);
    TlsConfig config = clientConfig(client, client.privateKeyPkcs8Pem());

    try (SSLSocket socket = connect(config, protocol)) {
      assertThatThrownBy(socket::startHandshake).isInstanceOf(SSLHandshakeException.class);
    }
    assertThatThrownBy(() -> peer.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
        .isInstanceOf(ExecutionException.class);
  }

  // ---- server name (SNI) ----

  /** Accepts one handshake and yields the server names the client sent. */
  private Future<List<SNIServerName>> serveRecordingServerNames() throws IOException {
    HandshakeCertificates server =
        new HandshakeCertificates.Builder()
            .heldCertificate(serverCert)
            .addTrustedCertificate(ca.certificate())
            .build();
    serverSocket =
        (SSLServerSocket)
            server.sslContext().getServerSocketFactory().createServerSocket(0, 1, LOOPBACK);
    serverSocket.setSoTimeout(TIMEOUT_MILLIS);
    return serverThread.submit(
        () -> {
          try (SSLSocket socket = (SSLSocket) serverSocket.accept()) {
            socket.setSoTimeout(TIMEOUT_MILLIS);
            socket.startHandshake();
            socket.getOutputStream().write(42);
            socket.getOutputStream().flush();
            return ((ExtendedSSLSession) socket.getSession()).getRequestedServerNames();
          }
        });
  }

  private List<SNIServerName> serverNamesSent(TlsConfig config, String host) throws Exception {
    Future<List<SNIServerName>> names = serveRecordingServerNames();
    try (SSLSocket socket =
        (SSLSocket) config.sslSocketFactory().createSocket(host, serverSocket.getLocalPort())) {
      socket.setSoTimeout(TIMEOUT_MILLIS);
      socket.startHandshake();
      assertThat(socket.getInputStream().read()).isEqualTo(42);
    }
    List<SNIServerName> sent = names.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
    serverSocket.close();
    return sent;
  }

  @Test
  void theServerNameIsSentAsSni() throws Exception {
    HeldCertificate client = leafEc("dp-ec", ca);
    TlsConfig config = clientConfig(client, client.privateKeyPkcs8Pem());

    assertThat(serverNamesSent(config.withServerName("cp.internal.example"), "127.0.0.1"))
        .containsExactly(new SNIHostName("cp.internal.example"));
    // Without one, the JDK's own choice: the dialled host if it is a dotted name, so nothing for
    // an IP address.
    assertThat(serverNamesSent(config, "127.0.0.1")).isEmpty();
    // An IP address or a name the JDK cannot send (a JDK server would abort on an underscore) is
    // not sent.
    assertThat(serverNamesSent(config.withServerName("10.0.0.1"), "127.0.0.1")).isEmpty();
    assertThat(serverNamesSent(config.withServerName("kong_clustering"), "127.0.0.1")).isEmpty();
  }

  @Test
  void theTransportSendsTheServerNameThroughOkHttp() throws Exception {
    HeldCertificate client = leafEc("dp-ec", ca);
    TlsConfig config =
        clientConfig(client, client.privateKeyPkcs8Pem()).withServerName("cp.internal.example");
    Future<List<SNIServerName>> names = serveRecordingServerNames();
    CompletableFuture<Throwable> failure = new CompletableFuture<>();
    try (OkHttpTransport transport = OkHttpTransport.create(config)) {
      transport.connect(
          new Transport.ConnectRequest(
              URI.create("wss://127.0.0.1:" + serverSocket.getLocalPort() + "/v1/outlet"),
              1 << 20,
              Duration.ofSeconds(10)),
          new Transport.Listener() {
            @Override
            public void onOpen() {}

            @Override
            public void onBinary(byte[] payload) {}

            @Override
            public void onPong(byte[] payload) {}

            @Override
            public void onPing(byte[] payload) {}

            @Override
            public void onClosed(int code, String reason) {}

            @Override
            public void onFailure(Throwable error) {
              failure.complete(error);
            }
          });
      assertThat(names.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
          .containsExactly(new SNIHostName("cp.internal.example"));
      // This server speaks no HTTP: the attempt then fails, as it should.
      assertThat(failure.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)).isNotNull();
    }
  }

  // ---- shared mode, the control plane's side ----

  @Test
  void aSharedModeServerRefusesAnotherClientCertificate() throws Exception {
    HeldCertificate cluster = new HeldCertificate.Builder().commonName("kong_clustering").build();
    HeldCertificate stranger = new HeldCertificate.Builder().commonName("kong_clustering").build();
    // What a control plane does in shared mode: present the cluster certificate, accept only it.
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(
        new KeyManager[] {
          new HandshakeCertificates.Builder().heldCertificate(cluster).build().keyManager()
        },
        new TrustManager[] {PeerTrust.sharedCertificate(cluster.certificate())},
        null);
    serverSocket =
        (SSLServerSocket) context.getServerSocketFactory().createServerSocket(0, 1, LOOPBACK);
    serverSocket.setNeedClientAuth(true);
    serverSocket.setSoTimeout(TIMEOUT_MILLIS);
    Future<String> peer =
        serverThread.submit(
            () -> {
              try (SSLSocket socket = (SSLSocket) serverSocket.accept()) {
                socket.setSoTimeout(TIMEOUT_MILLIS);
                socket.startHandshake();
                return socket.getSession().getPeerPrincipal().getName();
              }
            });
    // A client that trusts the cluster certificate but presents another one.
    HandshakeCertificates client =
        new HandshakeCertificates.Builder()
            .heldCertificate(stranger)
            .addTrustedCertificate(cluster.certificate())
            .build();
    try (SSLSocket socket =
        (SSLSocket)
            client.sslSocketFactory().createSocket("127.0.0.1", serverSocket.getLocalPort())) {
      socket.setSoTimeout(TIMEOUT_MILLIS);
      assertThatThrownBy(
              () -> {
                socket.startHandshake();
                socket.getInputStream().read();
              })
          .isInstanceOfAny(SSLException.class, SocketException.class);
    }
    assertThatThrownBy(() -> peer.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(SSLHandshakeException.class)
        .hasMessageStartingWith(
            "data plane certificate does not match the shared cluster certificate (sha256 "
                + PemMaterial.sha256Fingerprint(stranger.certificate()));
  }
}
