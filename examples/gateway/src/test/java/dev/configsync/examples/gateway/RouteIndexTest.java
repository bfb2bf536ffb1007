package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.routes.KongRoutes;
import dev.configsync.routes.KongRoutes.Route;
import dev.configsync.routes.KongRoutes.Service;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.jspecify.annotations.Nullable;

/**
 * The index answers exactly as testing every route in configuration order does: the oracle below is
 * the plain scan the gateway used before the index, kept here to hold the index to it.
 */
class RouteIndexTest {
  private static final Service SERVICE =
      new Service(
          "s",
          "http",
          "upstream",
          80,
          "",
          java.time.Duration.ofMillis(KongRoutes.DEFAULT_READ_TIMEOUT_MS));

  /** Paths that prefix one another, so that longest-prefix and ties are exercised. */
  private static final List<String> PATHS = List.of("/", "/a", "/ab", "/a/", "/a/b", "/b", "/abc");

  private static final List<String> HOSTS =
      List.of("x.example.com", "y.example.com", "*.example.com", "x.*", "other.org");

  private static final List<String> METHODS = List.of("GET", "POST", "PUT");

  @Property(tries = 400)
  void theIndexPicksTheRouteAPlainScanPicks(
      @ForAll("routes") List<Route> routes,
      @ForAll("methods") String method,
      @ForAll("requestHosts") @Nullable String host,
      @ForAll("requestPaths") String path) {
    RouteIndex.Hit hit = new RouteIndex(routes).match(method, host, path);
    Scan expected = scan(routes, method, host, path);
    if (expected == null) {
      assertThat(hit).isNull();
    } else {
      assertThat(hit).isNotNull();
      assertThat(hit.route()).isSameAs(expected.route());
      assertThat(hit.pathLength()).isEqualTo(expected.length());
    }
  }

  @Provide
  Arbitrary<List<Route>> routes() {
    Arbitrary<List<String>> paths = Arbitraries.of(PATHS).list().ofMaxSize(3);
    Arbitrary<List<String>> hosts = Arbitraries.of(HOSTS).list().ofMaxSize(2);
    Arbitrary<Set<String>> methods = Arbitraries.of(METHODS).set().ofMaxSize(2);
    Arbitrary<Route> route =
        Combinators.combine(paths, hosts, methods)
            .as((p, h, m) -> new Route("r", SERVICE, p, h, m, true));
    return route
        .list()
        .ofMinSize(0)
        .ofMaxSize(12)
        .map(
            list -> {
              List<Route> named = new ArrayList<>();
              for (int i = 0; i < list.size(); i++) {
                Route r = list.get(i);
                named.add(
                    new Route("r" + i, SERVICE, r.paths(), r.hosts(), r.methods(), r.stripPath()));
              }
              return named;
            });
  }

  @Provide
  Arbitrary<String> methods() {
    return Arbitraries.of(METHODS);
  }

  @Provide
  Arbitrary<@Nullable String> requestHosts() {
    return Arbitraries.of("x.example.com", "y.example.com", "z.example.com", "x.org", "other.org")
        .injectNull(0.15);
  }

  @Provide
  Arbitrary<String> requestPaths() {
    return Arbitraries.of("/", "/a", "/ab", "/abc", "/abcd", "/a/b/c", "/b", "/c", "", "/a/");
  }

  private record Scan(Route route, int length) {}

  /** The gateway's rules applied by testing every route in order. */
  private static @Nullable Scan scan(
      List<Route> routes, String method, @Nullable String host, String rawPath) {
    Route best = null;
    int bestLength = -1;
    for (Route route : routes) {
      if (!route.methods().isEmpty() && !route.methods().contains(method)) {
        continue;
      }
      if (!route.hosts().isEmpty() && !KongRoutes.hostMatches(route.hosts(), host)) {
        continue;
      }
      int length = prefixLength(route.paths(), rawPath);
      if (length < 0) {
        continue;
      }
      if (best == null || beats(route, length, best, bestLength)) {
        best = route;
        bestLength = length;
      }
    }
    return best == null ? null : new Scan(best, bestLength);
  }

  private static boolean beats(Route route, int length, Route best, int bestLength) {
    if (length != bestLength) {
      return length > bestLength;
    }
    if (route.hosts().isEmpty() != best.hosts().isEmpty()) {
      return !route.hosts().isEmpty();
    }
    if (route.methods().isEmpty() != best.methods().isEmpty()) {
      return !route.methods().isEmpty();
    }
    return false;
  }

  private static int prefixLength(List<String> paths, String rawPath) {
    if (paths.isEmpty()) {
      return 0;
    }
    int longest = -1;
    for (String p : paths) {
      if (rawPath.startsWith(p) && p.length() > longest) {
        longest = p.length();
      }
    }
    return longest;
  }
}
