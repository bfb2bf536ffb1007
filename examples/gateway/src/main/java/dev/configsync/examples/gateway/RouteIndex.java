package dev.configsync.examples.gateway;

import dev.configsync.routes.KongRoutes;
import dev.configsync.routes.KongRoutes.Route;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
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
 * either the request's exact host, a wildcard host, or no host.
 *
 * <p><b>Versions.</b> Immutable, safe to share between threads. {@link #with} makes the index of
 * the next configuration from this one in time proportional to the routes that changed: it copies
 * the buckets of the paths those routes have, and the shard of the path map each bucket sits in
 * ({@link ShardedMap}); every other bucket is shared. A request that read this index keeps matching
 * against it, whole, while the next one is made and swapped in.
 */
final class RouteIndex {
  /** The route a request matched, and the length of the path prefix it matched with. */
  record Hit(Route route, int pathLength) {}

  /** The routes that have one given path (or no path: the empty one). Immutable. */
  private record Bucket(
      Map<String, List<Route>> byExactHost, List<Route> wildcardHosts, List<Route> anyHost) {

    static final Bucket EMPTY = new Bucket(Map.of(), List.of(), List.of());

    boolean isEmpty() {
      return byExactHost.isEmpty() && wildcardHosts.isEmpty() && anyHost.isEmpty();
    }

    /** This bucket with {@code route} added ({@code add}) or removed. */
    Bucket change(Route route, boolean add) {
      List<String> hosts = route.hosts();
      if (hosts.isEmpty()) {
        return new Bucket(byExactHost, wildcardHosts, changed(anyHost, route, add));
      }
      Map<String, List<Route>> exact = byExactHost;
      boolean wildcard = false;
      for (String host : new TreeSet<>(hosts)) {
        if (isWildcard(host)) {
          wildcard = true;
        } else {
          if (exact == byExactHost) {
            exact = new HashMap<>(byExactHost);
          }
          List<Route> list = changed(exact.getOrDefault(host, List.of()), route, add);
          if (list.isEmpty()) {
            exact.remove(host);
          } else {
            exact.put(host, list);
          }
        }
      }
      return new Bucket(
          exact, wildcard ? changed(wildcardHosts, route, add) : wildcardHosts, anyHost);
    }

    private static List<Route> changed(List<Route> list, Route route, boolean add) {
      List<Route> copy = new ArrayList<>(list);
      if (add) {
        copy.add(route);
      } else {
        copy.remove(route);
      }
      return List.copyOf(copy);
    }
  }

  private final ShardedMap<String, Bucket> byPath;

  /** How many (route, path) pairs have each path length. */
  private final NavigableMap<Integer, Integer> lengthCounts;

  /** The distinct path lengths, longest first. */
  private final int[] lengths;

  /**
   * Each route's position in the configuration, by name: it breaks the last tie. Only the order of
   * positions matters, so a version made in place keeps the others' positions (with gaps where
   * routes were removed) and numbers routes added at the end from {@link #nextPosition}.
   */
  private final ShardedMap<String, Integer> positions;

  /** Larger than every position in {@link #positions}. */
  private final int nextPosition;

  private RouteIndex(
      ShardedMap<String, Bucket> byPath,
      NavigableMap<Integer, Integer> lengthCounts,
      ShardedMap<String, Integer> positions,
      int nextPosition) {
    this.byPath = byPath;
    this.lengthCounts = lengthCounts;
    this.lengths = lengthCounts.descendingKeySet().stream().mapToInt(Integer::intValue).toArray();
    this.positions = positions;
    this.nextPosition = nextPosition;
  }

  /** The index of {@code routes}, in configuration order; route names are unique. */
  RouteIndex(List<Route> routes) {
    TreeMap<Integer, Integer> counts = new TreeMap<>();
    Map<String, Bucket> building = new HashMap<>();
    for (Route route : routes) {
      for (String path : pathsOf(route)) {
        counts.merge(path.length(), 1, Integer::sum);
        building.put(path, building.getOrDefault(path, Bucket.EMPTY).change(route, true));
      }
    }
    this.byPath = ShardedMap.of(building);
    this.lengthCounts = counts;
    this.lengths = counts.descendingKeySet().stream().mapToInt(Integer::intValue).toArray();
    this.positions = positionsOf(routes);
    this.nextPosition = routes.size();
  }

  private static ShardedMap<String, Integer> positionsOf(List<Route> routes) {
    Map<String, Integer> positions = new HashMap<>();
    for (int i = 0; i < routes.size(); i++) {
      positions.put(routes.get(i).name(), i);
    }
    return ShardedMap.of(positions);
  }

  private static Set<String> pathsOf(Route route) {
    return new TreeSet<>(route.paths().isEmpty() ? List.of("") : route.paths());
  }

  private static boolean isWildcard(String host) {
    return host.startsWith("*.") || host.endsWith(".*");
  }

  /**
   * The index of the next configuration: this one without {@code removed}, with {@code added}, and
   * with the routes' new positions (every route's, by name). This index is unchanged.
   */
  RouteIndex with(
      Collection<Route> removed, Collection<Route> added, Map<String, Integer> newPositions) {
    return with(removed, added, ShardedMap.of(newPositions), newPositions.size());
  }

  /**
   * The index of the next configuration when the routes both have kept their order (no route was
   * moved) and every route added is at the end of the configuration, in {@code appended}'s order:
   * the positions are this index's, without the removed names ({@code gone}), with each renamed
   * route ({@code renamed}: new name to old) at its old name's position, and the appended routes
   * after all others. No pass over the configuration's routes. This index is unchanged.
   */
  RouteIndex withInPlace(
      Collection<Route> removed,
      Collection<Route> added,
      Collection<String> gone,
      Map<String, String> renamed,
      List<String> appended) {
    ShardedMap<String, Integer> next = positions;
    for (String name : gone) {
      next = next.without(name);
    }
    // Old names first, then new ones: two routes may have swapped names.
    for (String old : renamed.values()) {
      next = next.without(old);
    }
    for (Map.Entry<String, String> e : renamed.entrySet()) {
      Integer p = positions.get(e.getValue());
      if (p == null) {
        throw new IllegalStateException("route " + e.getValue() + " has no position");
      }
      next = next.with(e.getKey(), p);
    }
    int position = nextPosition;
    for (String name : appended) {
      next = next.with(name, position++);
    }
    return with(removed, added, next, position);
  }

  private RouteIndex with(
      Collection<Route> removed,
      Collection<Route> added,
      ShardedMap<String, Integer> newPositions,
      int newNextPosition) {
    ShardedMap<String, Bucket> paths = byPath;
    TreeMap<Integer, Integer> counts = new TreeMap<>(lengthCounts);
    for (Route route : removed) {
      for (String path : pathsOf(route)) {
        Bucket bucket = paths.get(path);
        if (bucket == null) {
          throw new IllegalStateException("route " + route.name() + " is not indexed");
        }
        Bucket next = bucket.change(route, false);
        paths = next.isEmpty() ? paths.without(path) : paths.with(path, next);
        counts.computeIfPresent(path.length(), (k, n) -> n == 1 ? null : n - 1);
      }
    }
    for (Route route : added) {
      for (String path : pathsOf(route)) {
        Bucket bucket = paths.get(path);
        paths = paths.with(path, (bucket == null ? Bucket.EMPTY : bucket).change(route, true));
        counts.merge(path.length(), 1, Integer::sum);
      }
    }
    return new RouteIndex(paths, counts, newPositions, newNextPosition);
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
      Route found = best(bucket, method, requestHost);
      if (found != null) {
        return new Hit(found, length);
      }
    }
    return null;
  }

  /** Within one path: a route with hosts beats one without, then one with methods, then order. */
  private @Nullable Route best(Bucket bucket, String method, @Nullable String requestHost) {
    Route best = null;
    if (requestHost != null && !requestHost.isEmpty()) {
      best = better(best, bucket.byExactHost().getOrDefault(requestHost, List.of()), method, null);
      best = better(best, bucket.wildcardHosts(), method, requestHost);
    }
    return best != null ? best : better(null, bucket.anyHost(), method, null);
  }

  private @Nullable Route better(
      @Nullable Route best, List<Route> candidates, String method, @Nullable String checkHost) {
    for (Route r : candidates) {
      if (!r.methods().isEmpty() && !r.methods().contains(method)) {
        continue;
      }
      if (checkHost != null && !KongRoutes.hostMatches(r.hosts(), checkHost)) {
        continue;
      }
      if (best == null || beats(r, best)) {
        best = r;
      }
    }
    return best;
  }

  private boolean beats(Route r, Route best) {
    boolean withMethods = !r.methods().isEmpty();
    if (withMethods != !best.methods().isEmpty()) {
      return withMethods;
    }
    return position(r) < position(best);
  }

  int position(Route r) {
    Integer p = positions.get(r.name());
    return p == null ? Integer.MAX_VALUE : p;
  }
}
