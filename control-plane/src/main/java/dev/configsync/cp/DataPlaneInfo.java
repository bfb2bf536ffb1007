package dev.configsync.cp;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What the control plane knows of one data plane, at the moment {@link
 * ControlPlaneServer#dataPlanes()} was called. Immutable.
 *
 * @param id the node's {@code node_id} (a UUID that survives its restarts)
 * @param hostname the node's {@code node_hostname}
 * @param address the IP address the connection came from
 * @param version the node's {@code node_version}
 * @param capabilities the plugins (capabilities) the node declared in {@code basic_info}, name to
 *     version
 * @param labels the labels the node declared in {@code basic_info}
 * @param connected whether the node is connected now
 * @param connectedSince when the current (or last) connection was accepted
 * @param lastSeen when the node last sent anything (a ping, {@code basic_info} or an error report)
 * @param configHash the configuration hash the node last reported in a ping ({@code 000...0} for
 *     none)
 * @param syncStatus whether the node is sent configuration, and if not why
 * @param syncStatusReason a sentence explaining {@code syncStatus} when it is not {@code NORMAL};
 *     empty otherwise
 * @param lastError the last error the node reported about a configuration it could not apply, if
 *     any
 */
public record DataPlaneInfo(
    String id,
    String hostname,
    String address,
    String version,
    Map<String, String> capabilities,
    Map<String, String> labels,
    boolean connected,
    Instant connectedSince,
    Instant lastSeen,
    String configHash,
    DataPlaneSyncStatus syncStatus,
    String syncStatusReason,
    Optional<ReportedError> lastError) {

  /** Copies the maps so the record stays immutable. */
  public DataPlaneInfo {
    Objects.requireNonNull(id, "id");
    capabilities = Map.copyOf(capabilities);
    labels = Map.copyOf(labels);
  }

  /**
   * An error a node reported about a configuration it could not apply (the protocol's optional
   * {@code error} message).
   *
   * @param name the error's name, for example {@code config_rejected}
   * @param message what the node said was wrong
   * @param configHash the hash of the configuration it refers to, when the node gave one
   * @param at when the control plane received it
   */
  public record ReportedError(
      String name, String message, @Nullable String configHash, Instant at) {}
}
