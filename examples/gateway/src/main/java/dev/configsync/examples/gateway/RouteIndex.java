package dev.configsync.examples.gateway;

import dev.configsync.routes.KongRoutes;
import dev.configsync.routes.KongRoutes.Route;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The routes of one table, indexed so that a request is matched without testing every route: by
 * path prefix (one hash lookup per distinct path length in the table, longest first), then by exact
 * host. Gives the same answer as testing every route in order with {@link RoutingTable#match}'s
 * rules; {@code RouteIndexTest} holds it to that against a plain scan.
 *
 * <p>Cost of one match: at most one lookup per distinct path length (a few dozen in real
 * configurations, however many routes there are), plus the routes that share the winning path and
 * either the request's exact host, a wildcard host, or no host. Built once per table in time and
 * memory linear in the routes; immutable, safe to share between threads.
 */
final class RouteIndex {
  /** A route and its position in the configuration, which breaks the last tie. */
  record Entry(Route route, int order) {}

  /** The route a request matched, and the length of the path prefix it matched with. */
  record Hit(Route route, int pathLength) {}

  /** The routes that have one given path (or no path: the empty one). */
  private static final class Bucket {
    final Map<String, List<Entry>> byExactHost = new HashMap<>();
    final List<Entry> wildcardHosts = new ArrayList<>();
    final List<Entry> anyHost = new ArrayList<>();
  }

  private final Map<String, Bucket> byPath = new HashMap<>();

  /** The distinct path lengths, longest first. */
  private final int[] lengths;

  RouteIndex(List<Route> routes) {
    TreeSet<Integer> distinct = new TreeSet<>();
    for (int i = 0; i < routes.size(); i++) {
      Route route = routes.get(i);
      Entry entry = new Entry(route, i);
      List<String> paths = route.paths().isEmpty() ? List.of("") : route.paths();
      for (String path : new TreeSet<>(paths)) {
        distinct.add(path.length());
        add(byPath.computeIfAbsent(path, p -> new Bucket()), entry);
      }
    }
    lengths = distinct.descendingSet().stream().mapToInt(Integer::intValue).toArray();
  }

  private static void add(Bucket bucket, Entry entry) {
    List<String> hosts = entry.route().hosts();
    if (hosts.isEmpty()) {
      bucket.anyHost.add(entry);
      return;
    }
    boolean wildcard = false;
    for (String host : new TreeSet<>(hosts)) {
      if (host.startsWith("*.") || host.endsWith(".*")) {
        wildcard = true;
      } else {
        bucket.byExactHost.computeIfAbsent(host, h -> new ArrayList<>()).add(entry);
      }
    }
    if (wildcard) {
      bucket.wildcardHosts.add(entry);
    }
  }

  /**
   * The winning route and the length of its matched path, or null when no route matches.
   *
   * @param requestHost the request's host, lower case and without a port, or null
   */
  @Nullable Hit match(String method, @Nullable String requestHost, String rawPath) {
    for (int length : lengths) {
      if (length > rawPath.length()) {
        continue;
      }
      Bucket bucket = byPath.get(rawPath.substring(0, length));
      if (bucket == null) {
        continue;
      }
      Entry found = best(bucket, method, requestHost);
      if (found != null) {
        return new Hit(found.route(), length);
      }
    }
    return null;
  }

  /** Within one path: a route with hosts beats one without, then one with methods, then order. */
  private static @Nullable Entry best(Bucket bucket, String method, @Nullable String requestHost) {
    Entry best = null;
    if (requestHost != null && !requestHost.isEmpty()) {
      best = better(best, bucket.byExactHost.getOrDefault(requestHost, List.of()), method, null);
      best = better(best, bucket.wildcardHosts, method, requestHost);
    }
    return best != null ? best : better(null, bucket.anyHost, method, null);
  }

  private static @Nullable Entry better(
      @Nullable Entry best, List<Entry> candidates, String method, @Nullable String checkHost) {
    for (Entry e : candidates) {
      Route r = e.route();
      if (!r.methods().isEmpty() && !r.methods().contains(method)) {
        continue;
      }
      if (checkHost != null && !KongRoutes.hostMatches(r.hosts(), checkHost)) {
        continue;
      }
      if (best == null || beats(e, best)) {
        best = e;
      }
    }
    return best;
  }

  private static boolean beats(Entry e, Entry best) {
    boolean withMethods = !e.route().methods().isEmpty();
    if (withMethods != !best.route().methods().isEmpty()) {
      return withMethods;
    }
    return e.order() < best.order();
  }
}
