package dev.configsync.bench;

import dev.configsync.testkit.TestPki;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.jspecify.annotations.Nullable;

/**
 * The floor of a push: {@code n} plain TLS connections over loopback with the same PKI as the
 * control plane and its data planes (server certificate from the CA, client certificate required).
 * The server side writes, like a control plane; on the client side one thread per connection reads
 * (decrypts) and discards, like a data plane's reader thread, and notes when the last byte arrived.
 */
final class TlsPairs implements AutoCloseable {
  private final SSLServerSocket listener;
  private final List<SSLSocket> serverSides = new ArrayList<>();
  private final List<SSLSocket> clientSides = new ArrayList<>();
  private final List<Thread> readers = new ArrayList<>();
  private final ExecutorService writers;
  private volatile int expected;
  private volatile boolean decode;
  private volatile @Nullable CountDownLatch done;
  private final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
  private final String cipherSuite;

  TlsPairs(TestPki pki, int n) throws Exception {
    listener =
        (SSLServerSocket)
            pki.controlPlaneHandshake()
                .sslContext()
                .getServerSocketFactory()
                .createServerSocket(0, Math.max(50, n), InetAddress.getLoopbackAddress());
    listener.setNeedClientAuth(true);
    listener.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
    javax.net.ssl.SSLSocketFactory clients = pki.dataPlaneTls().sslSocketFactory();
    int port = listener.getLocalPort();
    ExecutorService acceptor = Executors.newSingleThreadExecutor();
    try {
      Future<List<SSLSocket>> accepted =
          acceptor.submit(
              () -> {
                List<SSLSocket> out = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                  SSLSocket s = (SSLSocket) listener.accept();
                  s.setTcpNoDelay(true);
                  s.startHandshake();
                  out.add(s);
                }
                return out;
              });
      for (int i = 0; i < n; i++) {
        SSLSocket c = (SSLSocket) clients.createSocket();
        c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        c.setTcpNoDelay(true);
        c.startHandshake();
        clientSides.add(c);
      }
      serverSides.addAll(accepted.get(60, TimeUnit.SECONDS));
    } finally {
      acceptor.shutdownNow();
    }
    cipherSuite =
        clientSides.get(0).getSession().getProtocol()
            + " "
            + clientSides.get(0).getSession().getCipherSuite();
    for (SSLSocket c : clientSides) {
      Thread t = new Thread(() -> drain(c), "floor-reader");
      t.setDaemon(true);
      t.start();
      readers.add(t);
    }
    writers = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors()));
  }

  /** The negotiated protocol and cipher suite, for the notes. */
  String cipherSuite() {
    return cipherSuite;
  }

  private void drain(SSLSocket socket) {
    byte[] buffer = new byte[64 * 1024];
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    try {
      InputStream in = socket.getInputStream();
      long got = 0;
      while (true) {
        int r = in.read(buffer);
        if (r < 0) {
          return;
        }
        got += r;
        if (decode) {
          received.write(buffer, 0, r);
        }
        int want = expected;
        if (want > 0 && got >= want) {
          got -= want;
          if (decode) {
            // What every node must do with a frame, however minimal: inflate it and read it.
            MiniNode.inflateAndScan(received.toByteArray());
            received.reset();
          }
          CountDownLatch latch = done;
          if (latch != null) {
            latch.countDown();
          }
        }
      }
    } catch (IOException e) {
      if (!socket.isClosed()) {
        failure.compareAndSet(null, e);
      }
    }
  }

  /**
   * Like {@link #sendToAll(byte[])}, and every reader then inflates the gzipped {@code payload} and
   * scans its JSON, as a minimal node does with a frame, before it counts as done.
   */
  void sendToAllAndDecode(byte[] payload) throws Exception {
    decode = true;
    try {
      sendToAll(payload);
    } finally {
      decode = false;
    }
  }

  /**
   * Writes {@code payload} once to every connection (spread over one writer thread per core) and
   * returns when every reader has read all of it.
   */
  void sendToAll(byte[] payload) throws Exception {
    CountDownLatch latch = new CountDownLatch(serverSides.size());
    expected = payload.length;
    done = latch;
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    List<Future<?>> writes = new ArrayList<>();
    for (int w = 0; w < threads; w++) {
      int first = w;
      writes.add(
          writers.submit(
              () -> {
                for (int i = first; i < serverSides.size(); i += threads) {
                  OutputStream out = serverSides.get(i).getOutputStream();
                  out.write(payload);
                  out.flush();
                }
                return null;
              }));
    }
    for (Future<?> f : writes) {
      f.get(120, TimeUnit.SECONDS);
    }
    if (!latch.await(120, TimeUnit.SECONDS)) {
      throw new IllegalStateException("TLS floor: the readers did not get every byte");
    }
    Throwable t = failure.get();
    if (t != null) {
      throw new IllegalStateException("TLS floor: a reader failed", t);
    }
  }

  @Override
  public void close() {
    writers.shutdownNow();
    for (List<SSLSocket> side : List.of(clientSides, serverSides)) {
      for (SSLSocket s : side) {
        try {
          s.close();
        } catch (IOException e) {
          // closing anyway
        }
      }
    }
    try {
      listener.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
