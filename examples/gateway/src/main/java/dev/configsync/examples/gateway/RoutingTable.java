package dev.configsync.examples.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.routes.KongRoutes;
import dev.configsync.routes.KongRoutes.Route;
import dev.configsync.routes.KongRoutes.Service;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The gateway's routing table: the services and routes of one configuration, in the Kong-like
 * subset that {@code examples/gateway/README.md} documents (read and checked by {@link KongRoutes},
 * shared with the Spring Cloud Gateway module), and the matching of requests against them.
 * Immutable and safe to share between threads; the gateway builds a new one for each configuration
 * and swaps it in with one write.
 *
 * <p>{@link #from} checks the whole configuration and refuses it with an {@link
 * IllegalArgumentException} naming the offending service or route, so that a configuration the
 * gateway cannot serve is refused before it replaces a good one.
 */
public final class RoutingTable {
  /**
   * The route a request matched, and the path to ask the upstream for.
   *
   * @param route the winning route
   * @param upstreamPath the raw (still percent-encoded) path to send upstream, without the query
   */
  public record Match(Route route, String upstreamPath) {}

  private final KongRoutes routes;
  private final RouteIndex index;

  private RoutingTable(KongRoutes routes) {
    this.routes = routes;
    this.index = new RouteIndex(routes.routes());
  }

  /**
   * Reads the services and routes of {@code config} (a configuration's {@code config_table}).
   *
   * @param hash the configuration's hash, reported on every response served with this table
   * @throws IllegalArgumentException when the configuration uses something outside the supported
   *     subset, or is inconsistent (a route naming a service the configuration does not define, two
   *     services of the same name, ...); the message says which entry and what to fix
   */
  public static RoutingTable from(String hash, JsonNode config) {
    return new RoutingTable(KongRoutes.from(hash, config));
  }

  /** The hash of the configuration this table was read from. */
  public String hash() {
    return routes.hash();
  }

  /** The services, in configuration order. */
  public List<Service> services() {
    return routes.services();
  }

  /** The routes, in configuration order (nested routes first, then top-level ones). */
  public List<Route> routes() {
    return routes.routes();
  }

  /**
   * Finds the route for a request: among the routes whose every given criterion matches (method,
   * host, path prefix), the one with the longest matching path prefix wins; on a tie, a route with
   * hosts beats one without, then one with methods beats one without, then the earlier route in the
   * configuration wins. The routes are indexed by path and by host: a match does not test every
   * route.
   *
   * @param method the request method
   * @param host the request's {@code Host} header (a port in it is ignored), or null
   * @param rawPath the request's raw (percent-encoded) path
   */
  public Optional<Match> match(String method, @Nullable String host, String rawPath) {
    String requestHost =
        host == null ? null : KongRoutes.hostWithoutPort(host).toLowerCase(Locale.ROOT);
    RouteIndex.Hit hit = index.match(method, requestHost, rawPath);
    if (hit == null) {
      return Optional.empty();
    }
    Route best = hit.route();
    String rest = best.stripPath() ? rawPath.substring(hit.pathLength()) : rawPath;
    return Optional.of(new Match(best, KongRoutes.join(best.service().path(), rest)));
  }

  @Override
  public String toString() {
    return "RoutingTable{hash="
        + routes.hash()
        + ", services="
        + routes.services().size()
        + ", routes="
        + routes.routes().size()
        + "}";
  }
}
