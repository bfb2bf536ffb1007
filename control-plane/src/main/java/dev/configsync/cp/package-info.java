/**
 * The configsync control plane: a Netty server that pushes configuration to a fleet of data planes
 * over Kong's hybrid-mode protocol (v1) with mutual TLS, tracks every node, and offers an admin
 * HTTP API. Start with {@link dev.configsync.cp.ControlPlaneServer#builder()}.
 */
@NullMarked
package dev.configsync.cp;

import org.jspecify.annotations.NullMarked;
