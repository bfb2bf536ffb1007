package dev.configsync.bench;

import dev.configsync.spi.Transport;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A transport without a network, for measuring the client itself: every connection opens at once,
 * pings are answered, and {@link #deliver} hands a frame to the client exactly as a transport's
 * reader thread would ({@code Listener.onBinary}). All callbacks run on one thread, one at a time,
 * as the SPI requires.
 */
final class LoopbackTransport implements Transport {
  private final ExecutorService reader =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "bench-loopback-reader");
            t.setDaemon(true);
            return t;
          });
  private volatile @Nullable Listener listener;

  @Override
  public Connection connect(ConnectRequest request, Listener l) {
    listener = l;
    reader.execute(l::onOpen);
    return new Connection() {
      @Override
      public boolean sendBinary(byte[] payload) {
        return true;
      }

      @Override
      public boolean sendPing(byte[] payload) {
        reader.execute(() -> l.onPong(payload));
        return true;
      }

      @Override
      public void close(int code, String reason) {
        reader.execute(() -> l.onClosed(code, reason));
      }

      @Override
      public void cancel() {}
    };
  }

  /**
   * Delivers {@code frame} to the open connection from the reader thread.
   *
   * @return a future of {@link System#nanoTime()} just before {@code onBinary} was called
   */
  long deliver(byte[] frame) throws Exception {
    Listener l = listener;
    if (l == null) {
      throw new IllegalStateException("no connection: start the client first");
    }
    return reader
        .submit(
            () -> {
              long at = System.nanoTime();
              l.onBinary(frame);
              return at;
            })
        .get(1, TimeUnit.MINUTES);
  }

  @Override
  public void close() {
    reader.shutdown();
  }
}
