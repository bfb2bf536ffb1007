package dev.configsync.spring.gateway;

import dev.configsync.ConfigSnapshot;
import dev.configsync.routes.KongRoutes;
import dev.configsync.spi.ConfigValidator;

/**
 * Refuses a configuration that cannot be turned into gateway routes (a route naming a service the
 * configuration does not define, a regular-expression path, matching on headers, ...), with a
 * message that names the service or route, so that the client keeps the configuration it runs. Runs
 * on the client's pipeline thread. Thread-safe.
 */
public final class RoutesValidator implements ConfigValidator {

  /** Creates the validator; the auto-configuration registers it. */
  public RoutesValidator() {}

  @Override
  public void validate(ConfigSnapshot snapshot) {
    GatewayRouteDefinitions.of(KongRoutes.from(snapshot.hash(), snapshot.config()));
  }
}
