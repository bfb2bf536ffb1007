package dev.configsync.examples;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * One data plane of the resilience demo: a name, a cache directory, and a client (replaced when it
 * restarts), with what its listeners recorded.
 *
 * <p>The client's listener threads fill {@link #applied} and {@link #events} and call the {@code
 * wake} callback; everything else runs on the demo's thread.
 */
final class DemoNode {
  /** Something a node's listener saw, with when (System.nanoTime). */
  record Seen(SyncEvent event, long nanos) {}

  /** A configuration a node applied, with when (System.nanoTime). */
  record Applied(String hash, SnapshotSource source, long nanos) {}

  final String name;
  final Path cacheDir;
  final List<Applied> applied = new CopyOnWriteArrayList<>();
  final List<Seen> events = new CopyOnWriteArrayList<>();
  private final TlsConfig tls;
  private final URI controlPlane;
  private final Runnable wake;
  private @Nullable ConfigSyncClient client;

  DemoNode(String name, Path cacheDir, TlsConfig tls, URI controlPlane, Runnable wake) {
    this.name = name;
    this.cacheDir = cacheDir;
    this.tls = tls;
    this.controlPlane = controlPlane;
    this.wake = wake;
  }

  /** Builds and starts a client on this node's cache directory. */
  void start() throws IOException {
    ConfigSyncClient c =
        ConfigSyncClient.builder()
            .controlPlane(controlPlane)
            .transport(OkHttpTransport.create(tls))
            .snapshotStore(FileSnapshotStore.open(cacheDir))
            .nodeHostname(name)
            .heartbeatInterval(DemoTimings.HEARTBEAT)
            .deadAfter(DemoTimings.DEAD_AFTER)
            .reconnectDelay(DemoTimings.RETRY_MIN, DemoTimings.RETRY_MAX)
            .handshakeTimeout(DemoTimings.HANDSHAKE_TIMEOUT)
            .label("demo", name)
            // The control plane sends a configuration only to nodes that declare every plugin
            // it uses (v4 and v5 use rate-limiting).
            .capability("rate-limiting", "3.9.0")
            .onSnapshot(
                s -> {
                  applied.add(new Applied(s.hash(), s.source(), System.nanoTime()));
                  wake.run();
                })
            .onEvent(
                e -> {
                  events.add(new Seen(e, System.nanoTime()));
                  wake.run();
                })
            .build();
    client = c;
    c.start();
  }

  ConfigSyncClient client() {
    return Objects.requireNonNull(client, "not started");
  }

  UUID nodeId() {
    return client().status().nodeId();
  }

  Optional<Seen> firstAfter(int mark, Class<? extends SyncEvent> type) {
    return since(events, mark).stream().filter(s -> type.isInstance(s.event())).findFirst();
  }

  List<String> hashesSince(int mark) {
    return since(applied, mark).stream().map(Applied::hash).collect(Collectors.toList());
  }

  long countAfter(int mark, Class<? extends SyncEvent> type) {
    return since(events, mark).stream().filter(s -> type.isInstance(s.event())).count();
  }

  Seen lastAfter(int mark, Class<? extends SyncEvent> type) {
    List<Seen> seen = since(events, mark);
    for (int i = seen.size() - 1; i >= 0; i--) {
      if (type.isInstance(seen.get(i).event())) {
        return seen.get(i);
      }
    }
    throw new IllegalStateException("no " + type.getSimpleName() + " event");
  }

  /** The first configuration with {@code hash} applied from {@code mark} on. */
  Optional<Applied> appliedSince(int mark, String hash) {
    return since(applied, mark).stream().filter(a -> a.hash().equals(hash)).findFirst();
  }

  long connections() {
    return events.stream().filter(s -> s.event() instanceof SyncEvent.Connected).count();
  }

  void closeQuietly() {
    ConfigSyncClient c = client;
    if (c != null) {
      c.close();
    }
  }

  /**
   * What {@code list} (filled by a listener thread) holds from {@code mark} on, as of now: a copy,
   * since a sub-list of a {@code CopyOnWriteArrayList} throws {@code
   * ConcurrentModificationException} once the listener adds to it (the demo failed so in CI).
   */
  private static <T> List<T> since(List<T> list, int mark) {
    List<T> now = List.copyOf(list);
    return now.subList(Math.min(mark, now.size()), now.size());
  }
}
