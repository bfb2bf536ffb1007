package dev.configsync.spring.gateway;

import dev.configsync.routes.KongRoutes;
import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.cloud.gateway.filter.FilterDefinition;
import org.springframework.cloud.gateway.handler.predicate.PredicateDefinition;
import org.springframework.cloud.gateway.route.RouteDefinition;

/**
 * Turns {@link KongRoutes} into Spring Cloud Gateway route definitions with the same precedence: a
 * route with several paths becomes one definition per path, and definitions are ordered by the
 * length of their path prefix (longest first; none counts as 0), then hosts before none, methods
 * before none, then configuration order. The gateway takes the first definition that matches, which
 * is the route the example gateway's rule picks.
 */
final class GatewayRouteDefinitions {
  /** Route metadata: the configsync service's name. */
  static final String SERVICE = "configsync.service";

  /** Route metadata: the configsync route's name. */
  static final String ROUTE = "configsync.route";

  /** Route metadata: the configuration's hash. */
  static final String HASH = "configsync.hash";

  private GatewayRouteDefinitions() {}

  private record Entry(KongRoutes.Route route, @Nullable String path, int position, int pathIndex) {
    int length() {
      return path == null ? 0 : path.length();
    }
  }

  static List<RouteDefinition> of(KongRoutes routes) {
    List<Entry> entries = new ArrayList<>();
    List<KongRoutes.Route> all = routes.routes();
    for (int i = 0; i < all.size(); i++) {
      KongRoutes.Route route = all.get(i);
      if (route.paths().isEmpty()) {
        entries.add(new Entry(route, null, i, 0));
      } else {
        for (int j = 0; j < route.paths().size(); j++) {
          entries.add(new Entry(route, route.paths().get(j), i, j));
        }
      }
    }
    entries.sort(
        Comparator.comparingInt(Entry::length)
            .reversed()
            .thenComparing(e -> e.route().hosts().isEmpty())
            .thenComparing(e -> e.route().methods().isEmpty())
            .thenComparingInt(Entry::position)
            .thenComparingInt(Entry::pathIndex));
    List<RouteDefinition> definitions = new ArrayList<>();
    for (int k = 0; k < entries.size(); k++) {
      Entry e = entries.get(k);
      KongRoutes.Route route = e.route();
      KongRoutes.Service service = route.service();
      RouteDefinition d = new RouteDefinition();
      d.setId(route.paths().size() > 1 ? route.name() + "#" + (e.pathIndex() + 1) : route.name());
      d.setUri(URI.create(service.origin()));
      d.setOrder(k);

      PredicateDefinition predicate = new PredicateDefinition();
      predicate.setName("ConfigSync");
      predicate.addArg("path", e.path() == null ? "" : e.path());
      predicate.addArg("hosts", String.join(" ", route.hosts()));
      predicate.addArg("methods", String.join(" ", route.methods().stream().sorted().toList()));
      d.setPredicates(List.of(predicate));

      FilterDefinition filter = new FilterDefinition();
      filter.setName("ConfigSyncUpstreamPath");
      filter.addArg("prefix", e.path() == null ? "" : e.path());
      filter.addArg("strip", Boolean.toString(route.stripPath()));
      filter.addArg("base", service.path());
      d.setFilters(List.of(filter));

      Map<String, Object> metadata = new LinkedHashMap<>();
      metadata.put(SERVICE, service.name());
      metadata.put(ROUTE, route.name());
      metadata.put("response-timeout", service.readTimeout().toMillis());
      d.setMetadata(metadata);
      definitions.add(d);
    }
    return List.copyOf(definitions);
  }
}
