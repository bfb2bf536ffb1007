package dev.configsync.spring.gateway;

import dev.configsync.ConfigSyncClient;
import dev.configsync.LicenseState;
import dev.configsync.SyncStatus;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.springframework.cloud.gateway.filter.GatewayFilterChain;
import org.springframework.cloud.gateway.filter.GlobalFilter;
import org.springframework.core.Ordered;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * Answers every routed request with 503 and a JSON body that says why while the running
 * configuration's license has expired: the node must not serve until the control plane sends a
 * configuration with a renewed license. Runs first among the global filters. Thread-safe.
 */
public final class LicenseGuardFilter implements GlobalFilter, Ordered {
  private final ConfigSyncClient client;

  /** Guards with {@code client}'s license state. */
  public LicenseGuardFilter(ConfigSyncClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, GatewayFilterChain chain) {
    SyncStatus status = client.status();
    if (status.licenseState() != LicenseState.EXPIRED || status.serving()) {
      return chain.filter(exchange);
    }
    String body =
        "{\"message\":\"license expired at "
            + status.licenseExpiresAt()
            + ": this gateway does not serve traffic until the control plane sends a"
            + " configuration with a renewed license\"}";
    ServerHttpResponse response = exchange.getResponse();
    response.setStatusCode(HttpStatus.SERVICE_UNAVAILABLE);
    response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
    DataBuffer buffer = response.bufferFactory().wrap(body.getBytes(StandardCharsets.UTF_8));
    return response.writeWith(Mono.just(buffer));
  }

  @Override
  public int getOrder() {
    return Ordered.HIGHEST_PRECEDENCE;
  }
}
