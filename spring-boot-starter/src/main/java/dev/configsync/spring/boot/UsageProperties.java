package dev.configsync.spring.boot;

import java.net.URI;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Usage telemetry.
 *
 * <p>Bound under {@code configsync.usage}; part of {@link ConfigSyncProperties}.
 */
public class UsageProperties {
  /** Whether requests counted with client.usage() are sent to the control plane. */
  private boolean enabled = true;

  /** Where usage batches go, as wss://host:port[/path]; default: the control plane's address. */
  private @Nullable URI endpoint;

  /** How often counted usage is sent. */
  private Duration flushInterval = Duration.ofSeconds(10);

  /** The most (service, route, consumer) rows in one batch. */
  private int batchSize = 1000;

  /** How many batches are kept until the control plane acknowledges them. */
  private int bufferBatches = 100;

  /** How long a telemetry connection waits for the control plane's ingest_hello. */
  private Duration helloTimeout = Duration.ofSeconds(5);

  /** The most (service, route, consumer) keys counted in memory at once. */
  private int maxKeys = 10_000;

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public @Nullable URI getEndpoint() {
    return endpoint;
  }

  public void setEndpoint(@Nullable URI endpoint) {
    this.endpoint = endpoint;
  }

  public Duration getFlushInterval() {
    return flushInterval;
  }

  public void setFlushInterval(Duration flushInterval) {
    this.flushInterval = flushInterval;
  }

  public int getBatchSize() {
    return batchSize;
  }

  public void setBatchSize(int batchSize) {
    this.batchSize = batchSize;
  }

  public int getBufferBatches() {
    return bufferBatches;
  }

  public void setBufferBatches(int bufferBatches) {
    this.bufferBatches = bufferBatches;
  }

  public Duration getHelloTimeout() {
    return helloTimeout;
  }

  public void setHelloTimeout(Duration helloTimeout) {
    this.helloTimeout = helloTimeout;
  }

  public int getMaxKeys() {
    return maxKeys;
  }

  public void setMaxKeys(int maxKeys) {
    this.maxKeys = maxKeys;
  }
}
