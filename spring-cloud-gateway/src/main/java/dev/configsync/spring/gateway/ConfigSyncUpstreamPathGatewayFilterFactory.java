package dev.configsync.spring.gateway;

import static org.springframework.cloud.gateway.support.ServerWebExchangeUtils.addOriginalRequestUrl;

import dev.configsync.routes.KongRoutes;
import org.springframework.cloud.gateway.filter.GatewayFilter;
import org.springframework.cloud.gateway.filter.factory.AbstractGatewayFilterFactory;
import org.springframework.http.server.reactive.ServerHttpRequest;

/**
 * The {@code ConfigSyncUpstreamPath} filter: the upstream path is the service's path joined with
 * one slash to the rest of the request path, where the rest is the raw path without the matched
 * prefix when the route has {@code strip_path} (Kong's default), or the whole raw path otherwise.
 * The query passes unchanged. Thread-safe.
 */
public final class ConfigSyncUpstreamPathGatewayFilterFactory
    extends AbstractGatewayFilterFactory<ConfigSyncUpstreamPathGatewayFilterFactory.Config> {

  /** Creates the factory; the auto-configuration registers it. */
  public ConfigSyncUpstreamPathGatewayFilterFactory() {
    super(Config.class);
  }

  @Override
  public GatewayFilter apply(Config config) {
    return (exchange, chain) -> {
      ServerHttpRequest request = exchange.getRequest();
      String raw = request.getURI().getRawPath();
      String prefix = config.getPrefix();
      String rest =
          config.isStrip() && !prefix.isEmpty() && raw.startsWith(prefix)
              ? raw.substring(prefix.length())
              : raw;
      String upstream = KongRoutes.join(config.getBase(), rest);
      if (upstream.equals(raw)) {
        return chain.filter(exchange);
      }
      addOriginalRequestUrl(exchange, request.getURI());
      ServerHttpRequest changed = request.mutate().path(upstream).build();
      return chain.filter(exchange.mutate().request(changed).build());
    };
  }

  /** How one route definition rewrites the path. */
  public static class Config {
    private String prefix = "";
    private boolean strip = true;
    private String base = "";

    /** The route's matched path prefix; empty when it has none. */
    public String getPrefix() {
      return prefix;
    }

    /** Sets the matched path prefix. */
    public void setPrefix(String prefix) {
      this.prefix = prefix;
    }

    /** Whether the prefix is removed ({@code strip_path}). */
    public boolean isStrip() {
      return strip;
    }

    /** Sets {@code strip_path}. */
    public void setStrip(boolean strip) {
      this.strip = strip;
    }

    /** The service's path; empty for none. */
    public String getBase() {
      return base;
    }

    /** Sets the service's path. */
    public void setBase(String base) {
      this.base = base;
    }
  }
}
