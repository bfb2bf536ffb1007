package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.SnapshotStore;
import dev.configsync.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Auto-configures a {@link ConfigSyncClient} from the {@code configsync.*} properties, and a {@link
 * ConfigSyncLifecycle} that starts it before the web server and closes it on shutdown.
 *
 * <p>A bean of the application's own wins over each default: a {@link ConfigSyncClient} (then none
 * is built, and the lifecycle starts that one if it is not started yet), a {@link Transport}, a
 * {@link SnapshotStore}. Every {@link ConfigValidator} bean checks each configuration, in order,
 * and any may refuse it. Every {@link ConfigSyncClientCustomizer} adjusts the builder. With a
 * {@link MeterRegistry} bean, the client's metrics are bound to it.
 *
 * <p>The auto-configured client publishes each {@link dev.configsync.ConfigSnapshot} it starts
 * running and each {@link dev.configsync.SyncEvent} as an application event (payload events: a
 * listener takes the type itself, e.g. {@code @EventListener void on(SyncEvent.Connected e)}), in
 * the order they happened, on the client's listener thread.
 */
@AutoConfiguration
@ConditionalOnProperty(
    prefix = ConfigSyncProperties.PREFIX,
    name = "enabled",
    havingValue = "true",
    matchIfMissing = true)
@EnableConfigurationProperties(ConfigSyncProperties.class)
public class ConfigSyncAutoConfiguration {

  /** Creates the auto-configuration; Spring calls it. */
  public ConfigSyncAutoConfiguration() {}

  /** Starts the client with the context, closes it on shutdown. */
  @Bean
  @ConditionalOnMissingBean
  public ConfigSyncLifecycle configSyncLifecycle(
      ConfigSyncClient client, ConfigSyncProperties properties) {
    return new ConfigSyncLifecycle(client, properties.getStartupWait());
  }

  /** The client and its transport, unless the application defines its own client. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnMissingBean(ConfigSyncClient.class)
  static class ClientConfiguration {

    /** OkHttp with {@code configsync.tls.*}; the client owns and closes it. */
    @Bean(destroyMethod = "")
    @ConditionalOnMissingBean
    Transport configSyncTransport(ConfigSyncProperties properties) {
      return ClientFactory.transport(properties);
    }

    @Bean(destroyMethod = "close")
    ConfigSyncClient configSyncClient(
        ConfigSyncProperties properties,
        Transport transport,
        ObjectProvider<SnapshotStore> store,
        ObjectProvider<ConfigValidator> validators,
        ObjectProvider<MeterRegistry> registry,
        ObjectProvider<ConfigSyncClientCustomizer> customizers,
        ApplicationEventPublisher publisher) {
      return ClientFactory.client(
          properties,
          transport,
          store.getIfUnique(),
          validators.orderedStream().toList(),
          registry.getIfUnique(),
          publisher,
          customizers.orderedStream().toList());
    }
  }
}
