package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What the admin API's endpoints ({@link AdminEndpoints}, {@link MetricsPage}) need of the control
 * plane, and nothing more: the publish path, the fleet's view and a few facts about the server.
 * Every method is thread-safe; they are called on the admin threads ({@code configsync-cp-admin}
 * for {@link #publish}, {@code configsync-cp-admin-read} for the rest).
 */
interface AdminBackend {
  /**
   * Publishes a parsed, frozen tree (counted in {@link #publishStats()}); with {@code
   * expectedHash}, only if the configuration in force has that hash. See {@link
   * ControlPlaneServer#publish(JsonNode, String)} for the exceptions.
   *
   * @param json the UTF-8 JSON the tree was parsed from, to go into the frame as it is, or null
   */
  PublishResult publish(JsonNode config, @Nullable String expectedHash, byte @Nullable [] json);

  /**
   * Publishes the outcome of entity edits made from the configuration {@code baseHash}, only if it
   * is still the one in force (see {@link ConfigPublisher#publishEdit}).
   */
  PublishResult publishEdit(EntityEdits.Edited edit, String baseHash);

  /** The configuration in force, indexed for entity edits, or empty before the first publish. */
  Optional<dev.configsync.internal.delta.IndexedConfig> currentIndexed();

  /** Who a configuration goes to among the connections open now (see {@link Outlet#tally}). */
  Outlet.Tally reach(String hash, JsonNode config);

  /** The publishes counted since start. */
  PublishStats publishStats();

  /** See {@link ControlPlaneServer#currentConfig()}. */
  Optional<PublishedConfig> currentConfig();

  /** See {@link ControlPlaneServer#history(int)}. */
  List<ConfigVersion> history(int limit);

  /** See {@link ControlPlaneServer#dataPlanes()}. */
  List<DataPlaneInfo> dataPlanes();

  /** See {@link ControlPlaneServer#usage()}. */
  UsageReport usage();

  /** Every replica's usage by name, or empty when no fleet directory shares usage. */
  Map<String, UsageReport> usageByReplica();

  /** See {@link ControlPlaneServer#degradedReason()}. */
  Optional<String> degradedReason();

  /** See {@link ControlPlaneServer#version()}. */
  String version();

  /** See {@link ControlPlaneServer#startedAt()}. */
  Instant startedAt();

  /** The TLS mode of new data plane connections. */
  ServerTls.Mode tlsMode();

  /** See {@link ControlPlaneServer#storeDescription()}. */
  String storeDescription();

  /** Whether the control plane is closing or closed: publishes are refused. */
  boolean isClosed();
}
