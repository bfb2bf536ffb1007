package dev.configsync.okhttp;

import dev.configsync.tls.PemMaterial;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * A TLS server that speaks only TLS 1.1, run in a child JVM whose {@code
 * jdk.tls.disabledAlgorithms} allows it (JDK 17 disables TLS 1.0 and 1.1 by default, for the whole
 * JVM).
 *
 * <p>Arguments: certificate PEM file, key PEM file. Before listening it proves that it really
 * speaks TLS 1.1 by completing a TLS 1.1 handshake with itself, then prints {@code LISTENING
 * <port>} and one {@code REFUSED <exception>} line per failed handshake, until its standard input
 * closes.
 */
public final class Tls11Server {
  private Tls11Server() {}

  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    List<X509Certificate> chain =
        PemMaterial.certificates(PemMaterial.readFile(Path.of(args[0])), args[0]);
    PrivateKey key = PemMaterial.privateKey(PemMaterial.readFile(Path.of(args[1])), args[1]);
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry("server", key, new char[0], chain.toArray(new X509Certificate[0]));
    store.setCertificateEntry("self", chain.get(0));
    KeyManagerFactory keys = KeyManagerFactory.getInstance("PKIX");
    keys.init(store, new char[0]);
    TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
    trust.init(store);
    SSLContext context = SSLContext.getInstance("TLSv1.1");
    context.init(keys.getKeyManagers(), trust.getTrustManagers(), null);

    SSLServerSocket server =
        (SSLServerSocket)
            context
                .getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
    server.setEnabledProtocols(new String[] {"TLSv1.1"});
    Thread acceptor =
        new Thread(
            () -> {
              while (true) {
                try (SSLSocket socket = (SSLSocket) server.accept()) {
                  socket.setSoTimeout(10_000);
                  socket.startHandshake();
                  out.println("ACCEPTED " + socket.getSession().getProtocol());
                } catch (IOException e) {
                  if (server.isClosed()) {
                    return;
                  }
                  out.println("REFUSED " + e);
                }
              }
            });
    acceptor.setDaemon(true);
    acceptor.start();

    try (SSLSocket self =
        (SSLSocket)
            context
                .getSocketFactory()
                .createSocket(server.getInetAddress(), server.getLocalPort())) {
      self.setEnabledProtocols(new String[] {"TLSv1.1"});
      self.startHandshake();
      out.println("SELF-CHECK " + self.getSession().getProtocol());
    }
    out.println("LISTENING " + server.getLocalPort());
    while (System.in.read() != -1) {
      // Runs until the parent closes our standard input (or dies).
    }
    server.close();
  }
}
