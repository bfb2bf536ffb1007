package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncStatus;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.actuate.info.InfoContributor;

/**
 * Adds {@code configsync} to Actuator's info endpoint: the library version, the node's identity,
 * and which configuration it runs (hash, source, when applied) and how it is connected.
 * Thread-safe.
 */
public final class ConfigSyncInfoContributor implements InfoContributor {
  private final ConfigSyncClient client;

  /** Information about {@code client}. */
  public ConfigSyncInfoContributor(ConfigSyncClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public void contribute(Info.Builder builder) {
    SyncStatus status = client.status();
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("version", ConfigSyncClient.VERSION);
    info.put("nodeId", status.nodeId().toString());
    info.put("state", status.state().name());
    if (status.hash() != null) {
      info.put("hash", status.hash());
    }
    if (status.source() != null) {
      info.put("source", status.source().name());
    }
    if (status.lastApplied() != null) {
      info.put("lastApplied", status.lastApplied().toString());
    }
    info.put("applied", status.applied());
    info.put("rejected", status.rejected());
    info.put("license", status.licenseState().name());
    builder.withDetail("configsync", info);
  }
}
