/**
 * An example gateway: a small HTTP reverse proxy that embeds {@link
 * dev.configsync.ConfigSyncClient} and routes requests by the services and routes of the
 * configuration the control plane sends. See {@code examples/gateway/README.md}.
 */
@NullMarked
package dev.configsync.examples.gateway;

import org.jspecify.annotations.NullMarked;
