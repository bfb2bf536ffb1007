package dev.configsync.spring.gateway;

import dev.configsync.routes.KongRoutes;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.springframework.cloud.gateway.handler.predicate.AbstractRoutePredicateFactory;
import org.springframework.cloud.gateway.handler.predicate.GatewayPredicate;
import org.springframework.http.HttpHeaders;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.web.server.ServerWebExchange;

/**
 * The {@code ConfigSync} route predicate: a configsync route's matching rule, as Kong compares it.
 * The path prefix is compared as a plain string with the raw (percent-encoded) path ({@code /api}
 * matches {@code /api/x} and {@code /apis}); hosts (exact, {@code *.suffix}, {@code prefix.*}) with
 * the {@code Host} header, its port and case ignored; methods exactly. An empty criterion matches
 * every request. Thread-safe.
 */
public final class ConfigSyncRoutePredicateFactory
    extends AbstractRoutePredicateFactory<ConfigSyncRoutePredicateFactory.Config> {

  /** Creates the factory; the auto-configuration registers it. */
  public ConfigSyncRoutePredicateFactory() {
    super(Config.class);
  }

  @Override
  public Predicate<ServerWebExchange> apply(Config config) {
    String path = config.getPath();
    List<String> hosts = split(config.getHosts());
    Set<String> methods = Set.copyOf(split(config.getMethods()));
    return new GatewayPredicate() {
      @Override
      public boolean test(ServerWebExchange exchange) {
        ServerHttpRequest request = exchange.getRequest();
        if (!methods.isEmpty() && !methods.contains(request.getMethod().name())) {
          return false;
        }
        if (!hosts.isEmpty()) {
          String host = request.getHeaders().getFirst(HttpHeaders.HOST);
          if (host == null
              || !KongRoutes.hostMatches(
                  hosts, KongRoutes.hostWithoutPort(host).toLowerCase(Locale.ROOT))) {
            return false;
          }
        }
        String raw = request.getURI().getRawPath();
        return path.isEmpty() || (raw != null && raw.startsWith(path));
      }

      @Override
      public String toString() {
        return "ConfigSync[path=" + path + ", hosts=" + hosts + ", methods=" + methods + "]";
      }
    };
  }

  private static List<String> split(String words) {
    return Arrays.stream(words.trim().split("\\s+"))
        .filter(w -> !w.isEmpty())
        .collect(Collectors.toList());
  }

  /** What one route definition matches; each criterion empty for any. */
  public static class Config {
    private String path = "";
    private String hosts = "";
    private String methods = "";

    /** The path prefix; empty for any path. */
    public String getPath() {
      return path;
    }

    /** Sets the path prefix. */
    public void setPath(String path) {
      this.path = path;
    }

    /** Host names separated by spaces. */
    public String getHosts() {
      return hosts;
    }

    /** Sets the host names, separated by spaces. */
    public void setHosts(String hosts) {
      this.hosts = hosts;
    }

    /** Upper-case method names separated by spaces. */
    public String getMethods() {
      return methods;
    }

    /** Sets the method names, separated by spaces. */
    public void setMethods(String methods) {
      this.methods = methods;
    }
  }
}
