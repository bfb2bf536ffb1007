package dev.configsync.okhttp;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import org.jspecify.annotations.Nullable;

/**
 * Sends a configured TLS server name (SNI) instead of the dialled host, so that a load balancer or
 * a control plane with several certificates picks the one the data plane checks.
 */
final class ServerNameSocketFactory extends SSLSocketFactory {
  private final SSLSocketFactory delegate;
  private final SNIHostName serverName;

  private ServerNameSocketFactory(SSLSocketFactory delegate, SNIHostName serverName) {
    this.delegate = delegate;
    this.serverName = serverName;
  }

  /**
   * {@code delegate} itself when {@code name} is null or cannot be sent as SNI: an IP address, or a
   * name the JDK refuses as a host name, such as {@code kong_clustering} (an underscore is not
   * allowed; a JDK server would even abort the handshake on receiving it).
   */
  static SSLSocketFactory wrap(SSLSocketFactory delegate, @Nullable String name) {
    SNIHostName sni = sniHostName(name);
    return sni == null ? delegate : new ServerNameSocketFactory(delegate, sni);
  }

  static @Nullable SNIHostName sniHostName(@Nullable String name) {
    if (name == null || isIpLiteral(name)) {
      return null;
    }
    try {
      return new SNIHostName(name);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static boolean isIpLiteral(String name) {
    return name.contains(":") || name.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
  }

  private Socket named(Socket socket) {
    if (socket instanceof SSLSocket ssl) {
      SSLParameters parameters = ssl.getSSLParameters();
      parameters.setServerNames(List.of(serverName));
      ssl.setSSLParameters(parameters);
    }
    return socket;
  }

  @Override
  public String[] getDefaultCipherSuites() {
    return delegate.getDefaultCipherSuites();
  }

  @Override
  public String[] getSupportedCipherSuites() {
    return delegate.getSupportedCipherSuites();
  }

  @Override
  public Socket createSocket(Socket socket, String host, int port, boolean autoClose)
      throws IOException {
    return named(delegate.createSocket(socket, host, port, autoClose));
  }

  @Override
  public Socket createSocket() throws IOException {
    return named(delegate.createSocket());
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    return named(delegate.createSocket(host, port));
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort)
      throws IOException {
    return named(delegate.createSocket(host, port, localHost, localPort));
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    return named(delegate.createSocket(host, port));
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    return named(delegate.createSocket(address, port, localAddress, localPort));
  }
}
