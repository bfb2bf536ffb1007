/**
 * Spring Cloud Gateway (WebFlux) configured by configsync: the configuration's services and routes
 * become gateway routes ({@link dev.configsync.spring.gateway.ConfigSyncRouteDefinitionLocator}),
 * every proxied request is counted for usage telemetry, and an expired license answers 503. See
 * {@code docs/spring.md}.
 */
@NullMarked
package dev.configsync.spring.gateway;

import org.jspecify.annotations.NullMarked;
