/**
 * Usage telemetry's implementation: the counting behind {@code UsageRecorder}, and the reporter
 * that batches counts and sends them on {@code /v1/ingest} over a {@code ReconnectingLink}. Not
 * API: the public types ({@code UsageRecorder}, {@code UsageCount}, {@code UsageStatus}, {@code
 * UsageLink}) are in {@code dev.configsync}.
 */
@NullMarked
package dev.configsync.internal.usage;

import org.jspecify.annotations.NullMarked;
