package dev.configsync.bench;

import dev.configsync.spi.Transport;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A transport that hands everything to another one and records the size of every binary message the
 * node receives: what came over the wire for a configuration (the WebSocket payload; the frame
 * header adds 2 to 10 bytes, TLS its record overhead).
 */
final class CountingTransport implements Transport {
  private final Transport delegate;
  private final LinkedBlockingQueue<Integer> received = new LinkedBlockingQueue<>();

  CountingTransport(Transport delegate) {
    this.delegate = delegate;
  }

  /** The sizes of the binary messages received since the last call, oldest first. */
  java.util.List<Integer> drain() {
    java.util.List<Integer> out = new java.util.ArrayList<>();
    received.drainTo(out);
    return out;
  }

  /** The WebSocket frame header's size for a payload of {@code length} bytes (server: unmasked). */
  static int headerBytes(int length) {
    return length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
  }

  @Override
  public Connection connect(ConnectRequest request, Listener listener) {
    return delegate.connect(
        request,
        new Listener() {
          @Override
          public void onOpen() {
            listener.onOpen();
          }

          @Override
          public void onBinary(byte[] payload) {
            received.add(payload.length);
            listener.onBinary(payload);
          }

          @Override
          public void onPong(byte[] payload) {
            listener.onPong(payload);
          }

          @Override
          public void onPing(byte[] payload) {
            listener.onPing(payload);
          }

          @Override
          public void onProgress() {
            listener.onProgress();
          }

          @Override
          public void onClosed(int code, String reason) {
            listener.onClosed(code, reason);
          }

          @Override
          public void onFailure(Throwable error) {
            listener.onFailure(error);
          }
        });
  }

  @Override
  public void close() {
    delegate.close();
  }
}
