package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;

/**
 * Adjusts the builder of the auto-configured {@link ConfigSyncClient} after the {@code
 * configsync.*} properties were applied to it and before the client is built: for settings that are
 * not properties (a clock, a reconnect backoff function, a backup store of another kind, more
 * listeners). Every bean of this type is called, in {@link
 * org.springframework.core.annotation.Order order}, on the thread that creates the client bean.
 *
 * <p>A customizer must not call {@code build()}. An exception it throws fails the application's
 * start.
 */
@FunctionalInterface
public interface ConfigSyncClientCustomizer {

  /** Adjusts {@code builder}. */
  void customize(ConfigSyncClient.Builder builder);
}
