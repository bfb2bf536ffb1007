package dev.configsync;

import dev.configsync.spi.Transport;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Transport} driven by the test: every {@link #connect} records its request and returns a
 * {@link FakeConnection} that stays unopened until the test calls {@link FakeConnection#open()}.
 */
final class FakeTransport implements Transport {
  private final List<ConnectRequest> requests = new CopyOnWriteArrayList<>();
  private final List<FakeConnection> connections = new CopyOnWriteArrayList<>();
  private final AtomicInteger closeCount = new AtomicInteger();

  @Override
  public FakeConnection connect(ConnectRequest request, Listener listener) {
    FakeConnection c = new FakeConnection(request, listener);
    requests.add(request);
    connections.add(c);
    return c;
  }

  @Override
  public void close() {
    closeCount.incrementAndGet();
  }

  List<ConnectRequest> requests() {
    return requests;
  }

  int connectCount() {
    return connections.size();
  }

  FakeConnection connection(int index) {
    return connections.get(index);
  }

  /** The most recent connection. */
  FakeConnection last() {
    if (connections.isEmpty()) {
      throw new AssertionError("the client has not connected yet");
    }
    return connections.get(connections.size() - 1);
  }

  int closeCount() {
    return closeCount.get();
  }
}
