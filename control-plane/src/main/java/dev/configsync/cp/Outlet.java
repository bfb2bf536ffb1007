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
  final int maxNodeLabels;
  final int maxNodePlugins;
  final Set<OutletSession> sessions = ConcurrentHashMap.newKeySet();
  final ConfigHistory history;
  // Failed TLS handshakes are logged at INFO at most once per interval (see OutletHttpHandler).
  final java.util.concurrent.atomic.AtomicLong nextTlsFailureInfoNanos =
      new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
  final java.util.concurrent.atomic.AtomicInteger tlsFailuresAtDebug =
      new java.util.concurrent.atomic.AtomicInteger();
  private volatile @Nullable Published latest;

  Outlet(
      NodeRegistry registry,
      String version,
      Map<String, String> plugins,
      Duration deadAfter,
      Duration handshakeTimeout,
      int maxInboundFrameBytes,
      int maxNodeLabels,
      int maxNodePlugins,
      ConfigHistory history) {
    this.history = history;
    this.registry = registry;
    this.version = version;
    this.plugins = Map.copyOf(plugins);
    this.deadAfter = deadAfter;
    this.handshakeTimeout = handshakeTimeout;
    this.maxInboundFrameBytes = maxInboundFrameBytes;
    this.maxNodeLabels = maxNodeLabels;
    this.maxNodePlugins = maxNodePlugins;
  }

  /**
   * Who a configuration that uses {@code plugins} goes to, among the connections open now: {@code
   * sent} compatible nodes (it is queued to them, or they already run it), {@code withheld} the
   * others by reason, {@code awaitingBasicInfo} connections not yet identified (checked when their
   * {@code basic_info} arrives). Connections that are closing are not counted. Any thread.
   */
  record Tally(int sent, Map<DataPlaneSyncStatus, Integer> withheld, int awaitingBasicInfo) {
    int connected() {
      return sent + awaitingBasicInfo + withheld.values().stream().mapToInt(i -> i).sum();
    }

    /**
     * For the log: the compatible nodes a configuration is sent to and, per reason, those it is
     * withheld from (a count of connected nodes alone hid that every one was withheld).
     */
    String describe() {
      StringBuilder text = new StringBuilder("sent to ").append(sent).append(" data plane(s)");
      if (!withheld.isEmpty()) {
        text.append(", withheld from ");
        String sep = "";
        for (Map.Entry<DataPlaneSyncStatus, Integer> e : withheld.entrySet()) {
          text.append(sep)
              .append(e.getValue())
              .append(" (")
              .append(e.getKey().wireName())
              .append(')');
          sep = ", ";
        }
      }
      if (awaitingBasicInfo > 0) {
        text.append(", ").append(awaitingBasicInfo).append(" not yet identified");
      }
      return text.toString();
    }
  }

  Tally tally(Set<String> plugins) {
    int sent = 0;
    int awaiting = 0;
    Map<DataPlaneSyncStatus, Integer> withheld = new java.util.EnumMap<>(DataPlaneSyncStatus.class);
    for (OutletSession session : sessions) {
      if (session.isEnding()) {
        continue; // closing: gets nothing more, and is not counted
      }
      Compatibility.Verdict verdict = session.verdictFor(plugins);
      if (verdict == null) {
        awaiting++;
      } else if (verdict.status() == DataPlaneSyncStatus.NORMAL) {
        sent++;
      } else {
        withheld.merge(verdict.status(), 1, Integer::sum);
      }
    }
    return new Tally(sent, Map.copyOf(withheld), awaiting);
  }

  @Nullable Published latest() {
    return latest;
  }

  /**
   * Makes {@code published} the latest and offers it to every live session. Callers serialize
   * publishes, so sessions see offers in publish order (and ignore any older than one they have).
   */
  void publish(Published published) {
    publish(published, null);
  }

  /**
   * {@link #publish(Published)}, with the change set that makes it from the configuration before
   * (an entity edit), so that the delta frame from there is made without a diff.
   */
  void publish(Published published, ConfigHistory.@Nullable Change change) {
    history.add(published, change);
    latest = published;
    for (OutletSession session : sessions) {
      session.offerFromAnyThread(published);
    }
  }
}
