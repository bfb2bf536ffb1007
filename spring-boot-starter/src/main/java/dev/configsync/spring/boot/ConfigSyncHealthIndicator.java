package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;
import dev.configsync.LicenseState;
import dev.configsync.SyncState;
import dev.configsync.SyncStatus;
import java.util.Objects;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * Actuator health of a {@link ConfigSyncClient}: {@code UP} while it serves a configuration (also
 * while the control plane is unreachable: the node then serves its cached one, which is what it is
 * for); {@code OUT_OF_SERVICE} when the running configuration's license has expired; {@code DOWN}
 * when it serves nothing (no configuration yet, or closed).
 *
 * <p>Details: {@code state}, {@code hash}, {@code source}, {@code lastContact}, {@code
 * lastApplied}, {@code license}, {@code licenseExpiresAt}, {@code cache}, {@code lastError}, {@code
 * nodeId}; those without a value are left out. Reads {@link ConfigSyncClient#status()}, which never
 * blocks. Thread-safe.
 */
public final class ConfigSyncHealthIndicator implements HealthIndicator {
  private final ConfigSyncClient client;

  /** The health of {@code client}. */
  public ConfigSyncHealthIndicator(ConfigSyncClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public Health health() {
    SyncStatus status = client.status();
    Health.Builder health;
    if (status.licenseState() == LicenseState.EXPIRED && status.hasConfiguration()) {
      health = Health.outOfService();
    } else if (status.serving()
        && status.hasConfiguration()
        && status.state() != SyncState.CLOSED) {
      health = Health.up();
    } else {
      health = Health.down();
    }
    health.withDetail("state", status.state().name());
    health.withDetail("nodeId", status.nodeId().toString());
    if (status.hash() != null) {
      health.withDetail("hash", status.hash());
    }
    if (status.source() != null) {
      health.withDetail("source", status.source().name());
    }
    if (status.lastContact() != null) {
      health.withDetail("lastContact", status.lastContact().toString());
    }
    if (status.lastApplied() != null) {
      health.withDetail("lastApplied", status.lastApplied().toString());
    }
    health.withDetail("license", status.licenseState().name());
    if (status.licenseExpiresAt() != null) {
      health.withDetail("licenseExpiresAt", status.licenseExpiresAt().toString());
    }
    health.withDetail("cache", status.cacheState().name());
    if (status.lastError() != null) {
      health.withDetail("lastError", status.lastError());
    }
    return health.build();
  }
}
