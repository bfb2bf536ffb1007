package dev.configsync.cp;

import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A {@link ConfigStore} in memory: the control plane starts empty after every restart. Suits
 * embedders that publish their configuration from their own source of truth at start-up, and tests.
 * It has no revisions: the control plane numbers its publishes itself, from 1 after each start (see
 * {@link PublishResult#version()}). Thread-safe.
 */
public final class InMemoryConfigStore implements ConfigStore {
  private volatile byte @Nullable [] payload;

  /** An empty store. */
  public InMemoryConfigStore() {}

  @Override
  public Optional<byte[]> load() {
    byte[] p = payload;
    return p == null ? Optional.empty() : Optional.of(p.clone());
  }

  @Override
  public void save(byte[] payload, String hash) {
    this.payload = payload.clone();
  }

  /**
   * Accepts every change at once: nothing here outlives the process, so there is nothing to make
   * durable ahead of the whole payload, which follows with {@link #save(byte[], String)}.
   */
  @Override
  public long saveChange(byte[] delta, String hash, String previousHash) {
    return 0;
  }

  @Override
  public String describe() {
    return "in memory (lost when the control plane stops)";
  }
}
