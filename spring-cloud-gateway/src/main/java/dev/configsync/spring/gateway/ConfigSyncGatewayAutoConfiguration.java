package dev.configsync.spring.gateway;

import dev.configsync.ConfigSyncClient;
import dev.configsync.spring.boot.ConfigSyncAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.cloud.gateway.route.RouteDefinitionLocator;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;

/**
 * Spring Cloud Gateway configured by configsync: routes from the configuration ({@link
 * ConfigSyncRouteDefinitionLocator}, with its {@code ConfigSync} predicate and {@code
 * ConfigSyncUpstreamPath} filter), a validator that refuses a configuration that cannot become
 * routes ({@link RoutesValidator}), usage telemetry per request ({@link UsageRecordingFilter}) and
 * 503 on an expired license ({@link LicenseGuardFilter}). Off with {@code
 * configsync.gateway.enabled=false}.
 */
@AutoConfiguration(after = ConfigSyncAutoConfiguration.class)
@ConditionalOnClass(RouteDefinitionLocator.class)
@ConditionalOnBean(ConfigSyncClient.class)
@ConditionalOnProperty(
    name = "configsync.gateway.enabled",
    havingValue = "true",
    matchIfMissing = true)
public class ConfigSyncGatewayAutoConfiguration {

  /** Creates the auto-configuration; Spring calls it. */
  public ConfigSyncGatewayAutoConfiguration() {}

  /** The routes. */
  @Bean
  @ConditionalOnMissingBean
  public ConfigSyncRouteDefinitionLocator configSyncRouteDefinitionLocator(
      ConfigSyncClient client, ApplicationEventPublisher publisher) {
    return new ConfigSyncRouteDefinitionLocator(client, publisher);
  }

  /** The {@code ConfigSync} predicate. */
  @Bean
  public ConfigSyncRoutePredicateFactory configSyncRoutePredicateFactory() {
    return new ConfigSyncRoutePredicateFactory();
  }

  /** The {@code ConfigSyncUpstreamPath} filter. */
  @Bean
  public ConfigSyncUpstreamPathGatewayFilterFactory configSyncUpstreamPathGatewayFilterFactory() {
    return new ConfigSyncUpstreamPathGatewayFilterFactory();
  }

  /** Refuses configurations that cannot become routes. */
  @Bean
  public RoutesValidator configSyncRoutesValidator() {
    return new RoutesValidator();
  }

  /** Usage telemetry per request. */
  @Bean
  @ConditionalOnMissingBean
  public UsageRecordingFilter configSyncUsageRecordingFilter(ConfigSyncClient client) {
    return new UsageRecordingFilter(client);
  }

  /** 503 on an expired license. */
  @Bean
  @ConditionalOnMissingBean
  public LicenseGuardFilter configSyncLicenseGuardFilter(ConfigSyncClient client) {
    return new LicenseGuardFilter(client);
  }
}
