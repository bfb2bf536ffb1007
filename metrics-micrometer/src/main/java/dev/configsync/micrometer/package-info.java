/**
 * Micrometer bindings: {@link dev.configsync.micrometer.MicrometerSyncMetrics} for a data plane
 * client, {@link dev.configsync.micrometer.ControlPlaneMetrics} for a control plane. Metric names
 * are listed in {@code docs/observability.md}.
 */
@NullMarked
package dev.configsync.micrometer;

import org.jspecify.annotations.NullMarked;
