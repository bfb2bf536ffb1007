package dev.configsync.spring.gateway;

import static org.springframework.cloud.gateway.support.ServerWebExchangeUtils.GATEWAY_ROUTE_ATTR;

import dev.configsync.ConfigSyncClient;
import java.util.Objects;
import org.springframework.cloud.gateway.filter.GatewayFilterChain;
import org.springframework.cloud.gateway.filter.GlobalFilter;
import org.springframework.cloud.gateway.route.Route;
import org.springframework.core.Ordered;
import org.springframework.http.HttpStatusCode;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * Counts every request routed by a configsync route for usage telemetry: {@code
 * client.usage().record(service, route, consumer, status)} with the status the client gets (also
 * one that an error handler set), when the response is committed. The consumer is the exchange
 * attribute {@link #CONSUMER_ATTRIBUTE}, which an authentication filter may set; none for anonymous
 * requests. Requests routed by other routes are not counted. Thread-safe and non-blocking.
 */
public final class UsageRecordingFilter implements GlobalFilter, Ordered {
  /** The exchange attribute holding the authenticated consumer's name, when there is one. */
  public static final String CONSUMER_ATTRIBUTE = "configsync.consumer";

  private final ConfigSyncClient client;

  /** Counts into {@code client.usage()}. */
  public UsageRecordingFilter(ConfigSyncClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, GatewayFilterChain chain) {
    Route route = exchange.getAttribute(GATEWAY_ROUTE_ATTR);
    if (route != null
        && route.getMetadata().get(GatewayRouteDefinitions.SERVICE) instanceof String service
        && route.getMetadata().get(GatewayRouteDefinitions.ROUTE) instanceof String name) {
      exchange
          .getResponse()
          .beforeCommit(
              () -> {
                HttpStatusCode status = exchange.getResponse().getStatusCode();
                String consumer = exchange.getAttribute(CONSUMER_ATTRIBUTE);
                client
                    .usage()
                    .record(service, name, consumer, status == null ? 200 : status.value());
                return Mono.empty();
              });
    }
    return chain.filter(exchange);
  }

  /** Just after {@link LicenseGuardFilter}: requests refused for the license are not counted. */
  @Override
  public int getOrder() {
    return Ordered.HIGHEST_PRECEDENCE + 1;
  }
}
