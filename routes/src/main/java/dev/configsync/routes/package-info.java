/**
 * The services and routes of a Kong-style declarative configuration ({@link
 * dev.configsync.routes.KongRoutes}), read and checked in one place for the gateways that route by
 * them: the Spring Cloud Gateway module and the example gateway.
 */
@NullMarked
package dev.configsync.routes;

import org.jspecify.annotations.NullMarked;
