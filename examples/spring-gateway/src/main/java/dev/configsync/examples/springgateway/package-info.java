/**
 * A Spring Cloud Gateway application configured by configsync: no code but {@link
 * dev.configsync.examples.springgateway.SpringGatewayApplication}; everything else is {@code
 * application.yml} and the starter. See {@code examples/spring-gateway/README.md}.
 */
@NullMarked
package dev.configsync.examples.springgateway;

import org.jspecify.annotations.NullMarked;
