package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSyncClient;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The settings a {@link ControlPlaneServer.Builder} collects, with their defaults (the public
 * documentation of each is on its builder method). A server gets a {@link #copy()}, which nothing
 * changes afterwards; its collaborators read that copy on any thread.
 */
final class ServerSettings {
  @Nullable ServerTls tls;
  InetSocketAddress listen = new InetSocketAddress(ControlPlaneServer.DEFAULT_PORT);
  @Nullable InetSocketAddress admin;
  @Nullable String adminToken;
  ConfigStore store = new InMemoryConfigStore();
  @Nullable FleetDirectory fleet;
  Duration heartbeat = ControlPlaneServer.DEFAULT_HEARTBEAT;
  @Nullable Duration deadAfter;
  Duration handshakeTimeout = Duration.ofSeconds(10);
  long maxPayloadBytes = ConfigSyncClient.DEFAULT_MAX_PAYLOAD_BYTES;
  long maxInflatedBytes = ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;
  int maxInboundFrameBytes = ControlPlaneServer.DEFAULT_MAX_INBOUND_FRAME_BYTES;
  int maxAdminBodyBytes = (int) ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;
  Duration forgetAfter = ControlPlaneServer.DEFAULT_FORGET_AFTER;
  int maxDataPlanes = ControlPlaneServer.DEFAULT_MAX_DATA_PLANES;
  long maxRegistryBytes = ControlPlaneServer.DEFAULT_MAX_REGISTRY_BYTES;
  int maxNodeIdsPerCertificate;
  int maxNodeLabels = ControlPlaneServer.DEFAULT_MAX_NODE_LABELS;
  int maxNodePlugins = ControlPlaneServer.DEFAULT_MAX_NODE_PLUGINS;
  int deltaHistory = ControlPlaneServer.DEFAULT_DELTA_HISTORY;
  long deltaHistoryBytes = ControlPlaneServer.DEFAULT_DELTA_HISTORY_BYTES;
  double maxDeltaFraction = ControlPlaneServer.DEFAULT_MAX_DELTA_FRACTION;
  Duration adminRequestHeadTimeout = ControlPlaneServer.DEFAULT_ADMIN_REQUEST_HEAD_TIMEOUT;
  Duration adminRequestBodyTimeout = ControlPlaneServer.DEFAULT_ADMIN_REQUEST_BODY_TIMEOUT;
  int maxAdminConnections = ControlPlaneServer.DEFAULT_MAX_ADMIN_CONNECTIONS;
  String version = ConfigSyncClient.VERSION;
  final Map<String, String> capabilities = new LinkedHashMap<>();
  Consumer<JsonNode> validator = config -> {};
  Clock clock = Clock.systemUTC();
  int ioThreads;
  Duration tlsReloadInterval = Duration.ofSeconds(30);
  Consumer<UsageBatch> onUsage = batch -> {};

  /** How long a node may send no ping before it is dropped: the setting, or 1.5 x heartbeat. */
  Duration deadAfter() {
    return deadAfter != null ? deadAfter : heartbeat.multipliedBy(3).dividedBy(2);
  }

  /**
   * A snapshot of these settings, so that changing the builder later cannot reach a server. Every
   * field is copied by reflection, so that a setting added later cannot be forgotten here.
   */
  ServerSettings copy() {
    ServerSettings c = new ServerSettings();
    c.capabilities.putAll(capabilities);
    for (Field field : ServerSettings.class.getDeclaredFields()) {
      int modifiers = field.getModifiers();
      if (Modifier.isStatic(modifiers) || Modifier.isFinal(modifiers)) {
        continue; // the only final field, capabilities, is copied above
      }
      try {
        field.set(c, field.get(this));
      } catch (IllegalAccessException e) {
        throw new IllegalStateException("cannot copy the setting " + field.getName(), e);
      }
    }
    return c;
  }

  static void requirePositive(String name, Duration d) {
    Objects.requireNonNull(d, name);
    requireArgument(!d.isNegative() && !d.isZero(), name + " must be positive: " + d);
  }

  static void requirePort(String name, int port) {
    requireArgument(port >= 0 && port <= 65535, name + " port must be 0 to 65535: " + port);
  }

  static void requireArgument(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
