package dev.configsync.okhttp;

import dev.configsync.spi.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.Socket;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import javax.net.SocketFactory;
import javax.net.ssl.HostnameVerifier;
import okhttp3.ConnectionSpec;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.TlsVersion;
import org.jspecify.annotations.Nullable;

/**
 * The WebSocket transport on OkHttp 5, over mutual TLS.
 *
 * <p>OkHttp does TCP, TLS 1.2+ (never older versions), client certificates, proxies and the
 * HTTP/1.1 upgrade; configsync reads and writes the WebSocket frames itself, because OkHttp's
 * {@code WebSocket} API can neither send a ping with a payload nor report pongs, and the protocol
 * needs both (the ping carries the running configuration's hash; liveness is judged on pongs).
 *
 * <p>TLS: the material comes from a {@link TlsConfig}, in its {@code pki} or {@code shared} mode.
 * Before each connection attempt the transport reads the config's files again and, when they
 * changed, uses the new certificate, key and CAs from that attempt on (an open connection keeps
 * what it was opened with); files that cannot be used leave the previous material in place, with a
 * WARN log. A refused handshake fails the connection with an {@link javax.net.ssl.SSLException}
 * whose message says what was refused and what to check (an expired or untrusted certificate on
 * either side, a wrong name, a shared certificate that differs, a TLS version below 1.2).
 *
 * <p>Threads: each connection has one reader thread (which also performs the handshake), and writes
 * go through a shared pool so that a send never blocks the caller. {@link #close()} stops the pool;
 * open connections should be closed first (the client does this).
 */
public final class OkHttpTransport implements Transport {
  private final OkHttpClient client;
  private final RotatingTls tls;
  private final ExecutorService writers;
  private final SecureRandom random = new SecureRandom();

  /**
   * How long an idle writer thread is kept. Longer than the default heartbeat (30 s) with room to
   * spare: a node that only pings would otherwise find its last writer thread just expired at each
   * heartbeat and start a new one, every 30 s, for ever.
   */
  static final Duration WRITER_KEEP_ALIVE = Duration.ofMinutes(2);

  private OkHttpTransport(Builder builder) {
    this.tls = new RotatingTls(builder.tls);
    OkHttpClient.Builder http =
        (builder.base != null ? builder.base.newBuilder() : new OkHttpClient.Builder())
            .protocols(List.of(Protocol.HTTP_1_1)) // an upgrade needs HTTP/1.1, never HTTP/2
            .connectionSpecs(
                List.of(
                    new ConnectionSpec.Builder(ConnectionSpec.MODERN_TLS)
                        .tlsVersions(TlsVersion.TLS_1_3, TlsVersion.TLS_1_2)
                        .build()))
            // Replaced before each connection by the current material (see connect).
            .sslSocketFactory(builder.tls.sslSocketFactory(), builder.tls.trustManager())
            // Small frames (pings, error reports) must not wait for the peer's delayed ACK.
            .socketFactory(new NoDelaySocketFactory(SocketFactory.getDefault(), socket -> {}))
            .retryOnConnectionFailure(false)
            .followRedirects(false)
            .followSslRedirects(false);
    if (builder.proxy != null) {
      http.proxy(builder.proxy);
    }
    this.client = http.build();
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            WRITER_KEEP_ALIVE.toMillis(),
            TimeUnit.MILLISECONDS,
            new SynchronousQueue<>(),
            r -> {
              Thread t = new Thread(r, "configsync-ws-writer");
              t.setDaemon(true);
              return t;
            });
    this.writers = pool;
  }

  /** How long an idle writer thread of this transport is kept; for tests. */
  Duration writerKeepAlive() {
    return Duration.ofMillis(
        ((ThreadPoolExecutor) writers).getKeepAliveTime(TimeUnit.MILLISECONDS));
  }

  /** A transport with mutual TLS from {@code tls} and OkHttp's defaults otherwise. */
  public static OkHttpTransport create(TlsConfig tls) {
    return builder(tls).build();
  }

  /** A builder, for a proxy or a customised OkHttp client. */
  public static Builder builder(TlsConfig tls) {
    return new Builder(tls);
  }

  /**
   * Starts connecting. Before the attempt, on the connection's own thread, the TLS files are read
   * again (see {@link TlsConfig#reload()}): rotated certificates are used from the next connection
   * on, without a restart, and files that cannot be used leave the previous material in place.
   */
  @Override
  public Connection connect(ConnectRequest request, Listener listener) {
    Duration timeout = request.handshakeTimeout();
    // The connection keeps its raw socket, so that it can abandon an attempt stuck in the TLS
    // handshake, where OkHttp's own cancel does not always reach.
    AtomicReference<@Nullable Socket> raw = new AtomicReference<>();
    OkHttpConnection connection =
        new OkHttpConnection(() -> attempt(timeout, raw), request, listener, writers, random, raw);
    connection.start();
    return connection;
  }

  /** The client for one attempt, with the current TLS material; on the connection's thread. */
  private OkHttpConnection.Attempt attempt(
      Duration timeout, AtomicReference<@Nullable Socket> raw) {
    TlsConfig material = tls.refresh();
    OkHttpConnection.HandshakePhase phase = new OkHttpConnection.HandshakePhase();
    EventListener.Factory events = client.eventListenerFactory();
    OkHttpClient.Builder perCall =
        client
            .newBuilder()
            .eventListenerFactory(call -> events.create(call).plus(phase))
            .sslSocketFactory(material.sslSocketFactory(), material.trustManager())
            .socketFactory(new NoDelaySocketFactory(SocketFactory.getDefault(), raw::set))
            .connectTimeout(timeout)
            .readTimeout(timeout)
            .writeTimeout(timeout);
    HostnameVerifier verifier = material.hostnameVerifier();
    if (verifier != null) {
      perCall.hostnameVerifier(verifier);
    }
    return new OkHttpConnection.Attempt(perCall.build(), material, tls.problem(), phase);
  }

  /**
   * The TLS material in use: the one the transport was built with, or the newest usable material
   * read from its files since. Does no I/O.
   */
  public TlsConfig tls() {
    return tls.latest();
  }

  @Override
  public void close() {
    writers.shutdown();
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }

  /** Plain sockets with Nagle's algorithm off. */
  private static final class NoDelaySocketFactory extends SocketFactory {
    private final SocketFactory delegate;
    private final Consumer<Socket> created;

    NoDelaySocketFactory(SocketFactory delegate, Consumer<Socket> created) {
      this.delegate = delegate;
      this.created = created;
    }

    private Socket noDelay(Socket socket) throws IOException {
      socket.setTcpNoDelay(true);
      created.accept(socket);
      return socket;
    }

    @Override
    public Socket createSocket() throws IOException {
      return noDelay(delegate.createSocket());
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
      return noDelay(delegate.createSocket(host, port));
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress local, int localPort)
        throws IOException {
      return noDelay(delegate.createSocket(host, port, local, localPort));
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
      return noDelay(delegate.createSocket(host, port));
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress local, int localPort)
        throws IOException {
      return noDelay(delegate.createSocket(address, port, local, localPort));
    }
  }

  /** Builds an {@link OkHttpTransport}. */
  public static final class Builder {
    private final TlsConfig tls;
    private @Nullable Proxy proxy;
    private @Nullable OkHttpClient base;

    private Builder(TlsConfig tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
    }

    /** An HTTP proxy to tunnel through (CONNECT). Default: none, or the base client's. */
    public Builder proxy(Proxy proxy) {
      this.proxy = Objects.requireNonNull(proxy, "proxy");
      return this;
    }

    /**
     * A client whose settings (DNS, socket factory, event listener, proxy authenticator) to start
     * from. Its TLS, protocol and redirect settings are replaced: the transport needs mutual TLS
     * and HTTP/1.1.
     */
    public Builder baseClient(OkHttpClient client) {
      this.base = Objects.requireNonNull(client, "baseClient");
      return this;
    }

    /** Builds the transport. */
    public OkHttpTransport build() {
      return new OkHttpTransport(this);
    }
  }
}
