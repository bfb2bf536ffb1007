/**
 * Spring Boot auto-configuration for configsync: a {@link dev.configsync.ConfigSyncClient} built
 * from {@code configsync.*} properties ({@link dev.configsync.spring.boot.ConfigSyncProperties}),
 * started before the web server and closed after it, whose configurations and events are published
 * as Spring application events; an Actuator health indicator and info contributor; Micrometer
 * metrics. See {@code docs/spring.md}.
 */
@NullMarked
package dev.configsync.spring.boot;

import org.jspecify.annotations.NullMarked;
