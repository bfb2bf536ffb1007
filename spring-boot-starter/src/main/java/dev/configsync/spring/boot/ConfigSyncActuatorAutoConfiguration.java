package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;
import org.springframework.boot.actuate.info.InfoContributor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * With Actuator on the class path: the {@code configsync} health indicator ({@link
 * ConfigSyncHealthIndicator}; off with {@code management.health.configsync.enabled=false}) and info
 * contributor ({@link ConfigSyncInfoContributor}; off with {@code
 * management.info.configsync.enabled=false}), for whichever {@link ConfigSyncClient} bean the
 * application has.
 */
@AutoConfiguration(after = ConfigSyncAutoConfiguration.class)
@ConditionalOnBean(ConfigSyncClient.class)
public class ConfigSyncActuatorAutoConfiguration {

  /** Creates the auto-configuration; Spring calls it. */
  public ConfigSyncActuatorAutoConfiguration() {}

  /** The health indicator, named {@code configsync}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(HealthIndicator.class)
  static class Health {
    // On the method, not the class: the condition's own class is in spring-boot-health, which is
    // only looked at once the class condition above has found it.
    @Bean
    @ConditionalOnEnabledHealthIndicator("configsync")
    @ConditionalOnMissingBean(name = "configsyncHealthIndicator")
    ConfigSyncHealthIndicator configsyncHealthIndicator(ConfigSyncClient client) {
      return new ConfigSyncHealthIndicator(client);
    }
  }

  /** The info contributor. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(InfoContributor.class)
  @ConditionalOnProperty(
      name = "management.info.configsync.enabled",
      havingValue = "true",
      matchIfMissing = true)
  static class Info {
    @Bean
    @ConditionalOnMissingBean(name = "configsyncInfoContributor")
    ConfigSyncInfoContributor configsyncInfoContributor(ConfigSyncClient client) {
      return new ConfigSyncInfoContributor(client);
    }
  }
}
