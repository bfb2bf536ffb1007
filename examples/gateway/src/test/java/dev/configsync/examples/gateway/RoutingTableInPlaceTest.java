package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigChanges;
import dev.configsync.internal.delta.ConfigDiff;
import dev.configsync.routes.KongRoutes.Route;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * A routing table updated in place, change after change, routes exactly as a table read whole from
 * the final configuration, and refuses exactly what a whole read refuses. The changes are the ones
 * a snapshot reports ({@code ConfigDiff.changes}, behind {@code ConfigSnapshot.changes()}).
 */
class RoutingTableInPlaceTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> PATHS = List.of("/", "/a", "/ab", "/a/", "/a/b", "/b", "/abc");
  private static final List<String> HOSTS =
      List.of("x.example.com", "y.example.com", "*.example.com", "x.*", "other.org");
  private static final List<String> METHODS = List.of("GET", "POST", "PUT");
  private static final List<@Nullable String> REQUEST_HOSTS =
      java.util.Arrays.asList("x.example.com", "y.example.com", "z.example.com", "x.org", null);
  private static final List<String> REQUEST_PATHS =
      List.of("/", "/a", "/ab", "/abc", "/abcd", "/a/b/c", "/b", "/c", "", "/a/");

  @Property(tries = 200)
  void changesAppliedInPlaceRouteAsTheFinalConfigurationReadWhole(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 25) int steps) {
    Random random = new Random(seed);
    boolean keyedById = random.nextBoolean();
    ObjectNode config;
    RoutingTable table;
    while (true) { // a configuration the gateway accepts, to start from
      config = initial(random, keyedById);
      try {
        table = RoutingTable.from(hash(0), config);
        break;
      } catch (IllegalArgumentException refused) {
        // another one
      }
    }
    for (int step = 1; step <= steps; step++) {
      ObjectNode next = change(config, random, keyedById);
      ConfigChanges changes = ConfigDiff.changes(config, next);
      RoutingTable whole;
      try {
        whole = RoutingTable.from(hash(step), next);
      } catch (IllegalArgumentException refused) {
        RoutingTable before = table;
        String refusedHash = hash(step);
        assertThatThrownBy(() -> before.withChanges(refusedHash, next, changes))
            .isInstanceOf(IllegalArgumentException.class);
        continue; // the client keeps the configuration in force
      }
      RoutingTable updated = table.withChanges(hash(step), next, changes);
      assertSameRouting(updated, whole);
      table = updated;
      config = next;
    }
  }

  @Test
  void theTableBeforeAChangeIsLeftAsItWas() throws Exception {
    ObjectNode before =
        (ObjectNode)
            JSON.readTree(
                "{\"services\":[{\"name\":\"s\",\"url\":\"http://s\"}],\"routes\":["
                    + "{\"name\":\"a\",\"service\":\"s\",\"paths\":[\"/a\"]}]}");
    RoutingTable old = RoutingTable.from(hash(0), before);
    ObjectNode after = before.deepCopy();
    ((ArrayNode) after.get("routes"))
        .addObject()
        .put("name", "ab")
        .put("service", "s")
        .putArray("paths")
        .add("/ab");
    RoutingTable next = old.withChanges(hash(1), after, ConfigDiff.changes(before, after));
    assertThat(next.match("GET", null, "/abc").map(m -> m.route().name())).contains("ab");
    assertThat(old.match("GET", null, "/abc").map(m -> m.route().name())).contains("a");
    assertThat(old.routeCount()).isEqualTo(1);
  }

  private static void assertSameRouting(RoutingTable actual, RoutingTable expected) {
    assertThat(names(actual.routes())).isEqualTo(names(expected.routes()));
    assertThat(actual.routes()).isEqualTo(expected.routes());
    assertThat(actual.services()).isEqualTo(expected.services());
    for (String method : METHODS) {
      for (String host : REQUEST_HOSTS) {
        for (String path : REQUEST_PATHS) {
          assertThat(actual.match(method, host, path))
              .as("%s %s %s", method, host, path)
              .isEqualTo(expected.match(method, host, path));
        }
      }
    }
  }

  private static List<String> names(List<Route> routes) {
    return routes.stream().map(Route::name).toList();
  }

  private static String hash(int step) {
    return String.format("%032x", step);
  }

  private static ObjectNode initial(Random random, boolean keyedById) {
    ObjectNode config = JSON.createObjectNode();
    config.put("_format_version", "3.0");
    ArrayNode services = config.putArray("services");
    int n = 1 + random.nextInt(3);
    for (int i = 0; i < n; i++) {
      services.add(service(i, random, keyedById));
    }
    ArrayNode routes = config.putArray("routes");
    int r = random.nextInt(8);
    for (int i = 0; i < r; i++) {
      routes.add(route(i, random, n, keyedById));
    }
    return config;
  }

  private static ObjectNode service(int i, Random random, boolean keyedById) {
    ObjectNode s = JSON.createObjectNode();
    if (keyedById) {
      s.put("id", "sid" + i);
    }
    s.put("name", "s" + i);
    s.put(
        "url",
        "http://up" + random.nextInt(3) + ":" + (8000 + i) + (random.nextBoolean() ? "/base" : ""));
    return s;
  }

  private static ObjectNode route(int i, Random random, int services, boolean keyedById) {
    ObjectNode r = JSON.createObjectNode();
    if (keyedById) {
      r.put("id", "rid" + i);
    }
    if (!keyedById || random.nextInt(4) > 0) {
      r.put("name", "r" + i + (random.nextInt(5) == 0 ? "x" : ""));
    }
    int s = random.nextInt(services + 1); // sometimes a service that does not exist
    if (keyedById && random.nextBoolean()) {
      r.put("service", "sid" + s);
    } else if (random.nextBoolean()) {
      r.putObject("service").put("name", "s" + s);
    } else {
      r.put("service", "s" + s);
    }
    ArrayNode paths = r.putArray("paths");
    for (int k = random.nextInt(3); k > 0; k--) {
      paths.add(PATHS.get(random.nextInt(PATHS.size())));
    }
    ArrayNode hosts = r.putArray("hosts");
    for (int k = random.nextInt(3); k > 0; k--) {
      hosts.add(HOSTS.get(random.nextInt(HOSTS.size())));
    }
    ArrayNode methods = r.putArray("methods");
    for (int k = random.nextInt(3); k > 0; k--) {
      methods.add(METHODS.get(random.nextInt(METHODS.size())));
    }
    if (paths.isEmpty() && hosts.isEmpty() && methods.isEmpty()) {
      paths.add("/");
    }
    r.put("strip_path", random.nextBoolean());
    return r;
  }

  /** One random change: routes and services added, updated, removed or moved. */
  private static ObjectNode change(ObjectNode config, Random random, boolean keyedById) {
    ObjectNode next = config.deepCopy();
    ArrayNode services = (ArrayNode) next.get("services");
    ArrayNode routes = (ArrayNode) next.get("routes");
    int fresh = 100 + random.nextInt(1000);
    switch (random.nextInt(8)) {
      case 0, 1 ->
          routes.insert(
              random.nextInt(routes.size() + 1), route(fresh, random, services.size(), keyedById));
      case 2 -> {
        if (!routes.isEmpty()) {
          routes.remove(random.nextInt(routes.size()));
        }
      }
      case 3, 4 -> {
        if (!routes.isEmpty()) {
          int at = random.nextInt(routes.size());
          ObjectNode replacement = route(fresh, random, services.size(), keyedById);
          JsonNode old = routes.get(at);
          if (old.has("id")) {
            replacement.set("id", old.get("id"));
          } else {
            replacement.set("name", old.get("name"));
          }
          routes.set(at, replacement);
        }
      }
      case 5 -> {
        int at = random.nextInt(services.size());
        ObjectNode s = service(at, random, keyedById);
        s.set("name", services.get(at).get("name"));
        if (random.nextInt(6) == 0) {
          s.put("name", "renamed" + fresh);
        }
        services.set(at, s);
      }
      case 6 -> {
        if (random.nextBoolean()) {
          services.add(service(services.size(), random, keyedById));
        } else if (services.size() > 1) {
          services.remove(services.size() - 1);
        }
      }
      default -> {
        if (routes.size() > 1) {
          JsonNode moved = routes.remove(random.nextInt(routes.size()));
          routes.insert(random.nextInt(routes.size() + 1), moved);
        }
      }
    }
    return next;
  }
}
