package dev.configsync;

import static java.nio.charset.StandardCharsets.US_ASCII;

import dev.configsync.spi.Transport;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One connection of a {@link FakeTransport}. Records what the client sends and how it ends the
 * connection; the test plays the control plane with {@link #open}, {@link #deliver}, {@link #pong},
 * {@link #closeByPeer} and {@link #fail}. These call the client's listener on the calling thread,
 * whatever state the connection is in (so that a test can also play a misbehaving transport).
 */
final class FakeConnection implements Transport.Connection {
  private final Transport.ConnectRequest request;
  private final Transport.Listener listener;
  private final List<byte[]> binaryFrames = new CopyOnWriteArrayList<>();
  private final List<String> pings = new CopyOnWriteArrayList<>();
  private volatile boolean open;
  private volatile boolean cancelled;
  private volatile int closeCode = -1;
  private volatile String closeReason = "";

  FakeConnection(Transport.ConnectRequest request, Transport.Listener listener) {
    this.request = request;
    this.listener = listener;
  }

  // ---- what the client does ------------------------------------------------------------------

  @Override
  public boolean sendBinary(byte[] payload) {
    if (!usable()) {
      return false;
    }
    binaryFrames.add(payload.clone());
    return true;
  }

  @Override
  public boolean sendPing(byte[] payload) {
    if (!usable()) {
      return false;
    }
    pings.add(new String(payload, US_ASCII));
    return true;
  }

  @Override
  public void close(int code, String reason) {
    if (closeCode == -1) {
      closeCode = code;
      closeReason = reason;
    }
  }

  @Override
  public void cancel() {
    cancelled = true;
  }

  private boolean usable() {
    return open && !cancelled && closeCode == -1;
  }

  // ---- what the control plane does -----------------------------------------------------------

  void open() {
    open = true;
    listener.onOpen();
  }

  void deliver(byte[] payload) {
    listener.onBinary(payload);
  }

  void pong() {
    listener.onPong(new byte[0]);
  }

  void closeByPeer(int code, String reason) {
    listener.onClosed(code, reason);
  }

  void fail(Throwable error) {
    listener.onFailure(error);
  }

  // ---- what the test checks ------------------------------------------------------------------

  Transport.ConnectRequest request() {
    return request;
  }

  List<byte[]> binaryFrames() {
    return binaryFrames;
  }

  /** Ping payloads, as ASCII strings, in the order sent. */
  List<String> pings() {
    return pings;
  }

  boolean isCancelled() {
    return cancelled;
  }

  /** The close code the client sent, or -1. */
  int closeCode() {
    return closeCode;
  }

  String closeReason() {
    return closeReason;
  }
}
