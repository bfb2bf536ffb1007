package dev.configsync.cp.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.DataPlaneSyncStatus;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** A data plane's entry in etcd, as JSON (the admin API's field names where they exist). */
final class NodeJson {
  private NodeJson() {}

  /** The entry; without {@code last_seen} when {@code lastSeen} is null (to compare entries). */
  static String write(DataPlaneInfo n, String replica, @Nullable Instant lastSeen) {
    ObjectNode o = EtcdSession.JSON.createObjectNode();
    o.put("id", n.id()).put("hostname", n.hostname()).put("ip", n.address());
    o.put("version", n.version());
    ObjectNode plugins = o.putObject("plugins");
    new java.util.TreeMap<>(n.capabilities()).forEach(plugins::put);
    ObjectNode labels = o.putObject("labels");
    new java.util.TreeMap<>(n.labels()).forEach(labels::put);
    o.put("connected", n.connected());
    o.put("connected_since", n.connectedSince().toString());
    if (lastSeen != null) {
      o.put("last_seen_at", lastSeen.toString());
    }
    o.put("config_hash", n.configHash());
    o.put("sync_status", n.syncStatus().wireName());
    o.put("sync_status_reason", n.syncStatusReason());
    n.lastError()
        .ifPresent(
            e -> {
              ObjectNode error = o.putObject("last_error");
              error.put("name", e.name()).put("message", e.message());
              error.put("config_hash", e.configHash()).put("at", e.at().toString());
            });
    o.put("replica", replica);
    return o.toString();
  }

  static DataPlaneInfo read(byte[] json) throws IOException {
    JsonNode o = EtcdSession.JSON.readTree(json);
    Instant since = Instant.parse(o.path("connected_since").asText());
    Instant seen = o.has("last_seen_at") ? Instant.parse(o.path("last_seen_at").asText()) : since;
    JsonNode e = o.path("last_error");
    Optional<DataPlaneInfo.ReportedError> error =
        e.isObject()
            ? Optional.of(
                new DataPlaneInfo.ReportedError(
                    e.path("name").asText(),
                    e.path("message").asText(),
                    e.path("config_hash").isTextual() ? e.path("config_hash").asText() : null,
                    Instant.parse(e.path("at").asText())))
            : Optional.empty();
    return new DataPlaneInfo(
        o.path("id").asText(),
        o.path("hostname").asText(),
        o.path("ip").asText(),
        o.path("version").asText(),
        strings(o.path("plugins")),
        strings(o.path("labels")),
        o.path("connected").asBoolean(),
        since,
        seen,
        o.path("config_hash").asText(),
        status(o.path("sync_status").asText()),
        o.path("sync_status_reason").asText(""),
        error);
  }

  private static Map<String, String> strings(JsonNode object) {
    Map<String, String> m = new LinkedHashMap<>();
    object.properties().forEach(f -> m.put(f.getKey(), f.getValue().asText()));
    return m;
  }

  private static DataPlaneSyncStatus status(String wire) {
    for (DataPlaneSyncStatus s : DataPlaneSyncStatus.values()) {
      if (s.wireName().equals(wire)) {
        return s;
      }
    }
    return DataPlaneSyncStatus.UNKNOWN;
  }
}
