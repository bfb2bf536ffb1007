package dev.configsync.cp;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * What every connection on {@code /v1/outlet} shares: the settings, the node registry, the live
 * sessions, and the latest published configuration.
 */
final class Outlet {
  final NodeRegistry registry;
  final String version;
  final Map<String, String> plugins;
  final Duration deadAfter;
  final Duration handshakeTimeout;
  final int maxInboundFrameBytes;
  final Set<OutletSession> sessions = ConcurrentHashMap.newKeySet();
  private volatile @Nullable Published latest;

  Outlet(
      NodeRegistry registry,
      String version,
      Map<String, String> plugins,
      Duration deadAfter,
      Duration handshakeTimeout,
      int maxInboundFrameBytes) {
    this.registry = registry;
    this.version = version;
    this.plugins = Map.copyOf(plugins);
    this.deadAfter = deadAfter;
    this.handshakeTimeout = handshakeTimeout;
    this.maxInboundFrameBytes = maxInboundFrameBytes;
  }

  @Nullable Published latest() {
    return latest;
  }

  /**
   * Makes {@code published} the latest and offers it to every live session. Callers serialize
   * publishes, so sessions see offers in publish order (and ignore any older than one they have).
   */
  void publish(Published published) {
    latest = published;
    for (OutletSession session : sessions) {
      session.offerFromAnyThread(published);
    }
  }
}
