package dev.configsync.examples.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigChanges;
import dev.configsync.ConfigChanges.CollectionChanges;
import dev.configsync.routes.KongRoutes;
import dev.configsync.routes.KongRoutes.Route;
import dev.configsync.routes.KongRoutes.Service;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The gateway's routing table: the services and routes of one configuration, in the Kong-like
 * subset that {@code examples/gateway/README.md} documents (read and checked by {@link KongRoutes},
 * shared with the Spring Cloud Gateway module), and the matching of requests against them.
 * Immutable and safe to share between threads; the gateway makes one for each configuration and
 * swaps it in with one write.
 *
 * <p><b>Updated in place.</b> {@link #withChanges} makes the table of the next configuration from
 * this one and the configuration's {@link ConfigChanges}: only the services and routes that changed
 * are read and checked, and the new table shares every unchanged route, service and index bucket
 * with this one (see {@link RouteIndex}). What that costs per change: the changed entities and the
 * routes of a changed service. The last tie-break is configuration order: when the changes say that
 * no route moved ({@link CollectionChanges#moved()}) and the routes added are at the end, the
 * positions are kept from this table; otherwise (and when the routes of a changed service must be
 * read again) one pass over the route names of the new configuration reads them again. Nothing is
 * modified that a reader can see: a request that read this table is routed wholly by it.
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

  private static final String SERVICES = "services";
  private static final String ROUTES = "routes";

  private final String hash;
  private final ShardedMap<String, Service> servicesByName;
  private final ShardedMap<String, JsonNode> serviceNodes; // by service name
  private final ShardedMap<String, String> serviceNameById;
  private final ShardedMap<String, Route> routesByName;
  private final ShardedMap<String, String> routeNameById;
  private final ShardedMap<String, Set<String>> routeNamesByService;
  private final Map<String, Integer> servicePositions;
  private final RouteIndex index;

  /** Whether a service nests routes: such a configuration is always read whole. */
  private final boolean nested;

  /**
   * Whether a route has neither name nor id: it is then named by its position, which any change
   * before it shifts, so the next configuration is read whole.
   */
  private final boolean unnamedRoutes;

  private RoutingTable(
      String hash,
      ShardedMap<String, Service> servicesByName,
      ShardedMap<String, JsonNode> serviceNodes,
      ShardedMap<String, String> serviceNameById,
      ShardedMap<String, Route> routesByName,
      ShardedMap<String, String> routeNameById,
      ShardedMap<String, Set<String>> routeNamesByService,
      Map<String, Integer> servicePositions,
      RouteIndex index,
      boolean nested,
      boolean unnamedRoutes) {
    this.hash = hash;
    this.servicesByName = servicesByName;
    this.serviceNodes = serviceNodes;
    this.serviceNameById = serviceNameById;
    this.routesByName = routesByName;
    this.routeNameById = routeNameById;
    this.routeNamesByService = routeNamesByService;
    this.servicePositions = servicePositions;
    this.index = index;
    this.nested = nested;
    this.unnamedRoutes = unnamedRoutes;
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
    KongRoutes read = KongRoutes.from(hash, config);
    Map<String, Service> services = new HashMap<>();
    Map<String, JsonNode> nodes = new HashMap<>();
    Map<String, String> serviceIds = new HashMap<>();
    Map<String, Integer> servicePositions = new HashMap<>();
    boolean nested = false;
    int position = 0;
    for (JsonNode node : config.path(SERVICES)) {
      Service service = read.services().get(position);
      services.put(service.name(), service);
      nodes.put(service.name(), node);
      servicePositions.put(service.name(), position++);
      String id = textOrNull(node, "id");
      if (id != null) {
        serviceIds.put(id, service.name());
      }
      nested |= node.path(ROUTES).isArray() && !node.path(ROUTES).isEmpty();
    }
    Map<String, Route> routes = new HashMap<>();
    Map<String, Set<String>> byService = new HashMap<>();
    for (Route route : read.routes()) {
      routes.put(route.name(), route);
      byService.computeIfAbsent(route.service().name(), s -> new HashSet<>()).add(route.name());
    }
    Map<String, String> routeIds = new HashMap<>();
    boolean unnamed = false;
    for (JsonNode node : config.path(ROUTES)) {
      String id = textOrNull(node, "id");
      String name = textOrNull(node, "name");
      if (id != null) {
        routeIds.put(id, name != null ? name : id);
      }
      unnamed |= id == null && name == null;
    }
    Map<String, Set<String>> frozen = new HashMap<>();
    byService.forEach((k, v) -> frozen.put(k, Set.copyOf(v)));
    return new RoutingTable(
        hash,
        ShardedMap.of(services),
        ShardedMap.of(nodes),
        ShardedMap.of(serviceIds),
        ShardedMap.of(routes),
        ShardedMap.of(routeIds),
        ShardedMap.of(frozen),
        Map.copyOf(servicePositions),
        new RouteIndex(read.routes()),
        nested,
        unnamed);
  }

  /**
   * The table of the next configuration, made from this one by applying {@code changes} (the
   * configuration's {@link dev.configsync.ConfigSnapshot#changes()}, against the configuration this
   * table was made from). Reads the configuration whole, as {@link #from} does, when the changes
   * say so ({@link ConfigChanges#initial()}), when {@code services} or {@code routes} changed as a
   * whole (not keyed), when a service is removed or renamed, or when a service nests routes. Gives
   * the table {@link #from} would give for {@code config}, and refuses what it would refuse. This
   * table is unchanged.
   *
   * @throws IllegalArgumentException as {@link #from} does
   */
  public RoutingTable withChanges(String newHash, JsonNode config, ConfigChanges changes) {
    if (changes.initial()
        || nested
        || changes.replaced().contains(SERVICES)
        || changes.replaced().contains(ROUTES)) {
      return from(newHash, config);
    }
    CollectionChanges services = changes.collections().get(SERVICES);
    CollectionChanges routes = changes.collections().get(ROUTES);
    if (services != null && needsWholeRead(services)) {
      return from(newHash, config);
    }
    if (routes != null && !routes.keyField().equals("id") && !routes.keyField().equals("name")) {
      return from(newHash, config);
    }
    Edit edit = new Edit();
    Set<String> routesToReread = new HashSet<>();
    if (services != null) {
      for (JsonNode node : services.added().values()) {
        edit.putService(node, true);
      }
      for (JsonNode node : services.updated().values()) {
        Service service = edit.putService(node, false);
        Set<String> of = routeNamesByService.get(service.name());
        if (of != null) {
          routesToReread.addAll(of);
        }
      }
    }
    Map<String, JsonNode> routeNodes = new LinkedHashMap<>();
    List<String> gone = new ArrayList<>();
    Map<String, String> renamed = new HashMap<>();
    List<String> appended = new ArrayList<>();
    boolean named = true;
    if (routes != null) {
      for (JsonNode node : routes.removed().values()) {
        String name = routeName(node);
        edit.removeRoute(name);
        gone.add(name);
        String id = textOrNull(node, "id");
        if (id != null) {
          edit.routeIds = edit.routeIds.without(id);
        }
      }
      for (Map.Entry<String, JsonNode> e : routes.updated().entrySet()) {
        String old = routes.keyField().equals("name") ? e.getKey() : routeNameById.get(e.getKey());
        String name = routeName(e.getValue());
        if (old != null) {
          edit.removeRoute(old);
          routesToReread.remove(old);
          if (!old.equals(name)) {
            renamed.put(name, old);
          }
        } else {
          named = false; // not known by its name: read the positions again
        }
        named &= !name.isEmpty();
        routeNodes.put(name, e.getValue());
      }
      for (JsonNode node : routes.added().values()) {
        String name = routeName(node);
        named &= !name.isEmpty();
        routeNodes.put(name, node);
        appended.add(name);
      }
    }
    if (named
        && !unnamedRoutes
        && routesToReread.isEmpty()
        && (routes == null || (!routes.moved() && addedAtTheEnd(config, routes)))) {
      // Nothing moved and nothing was inserted among the routes: their order is known without a
      // pass over the configuration's routes.
      for (JsonNode node : routeNodes.values()) {
        edit.addRoute(node);
      }
      return next(
          newHash,
          edit,
          services,
          config,
          index.withInPlace(edit.removed, edit.added, gone, renamed, appended));
    }
    // One pass over the route names: their positions, and the routes of changed services.
    Map<String, Integer> positions = new HashMap<>();
    int position = 0;
    for (JsonNode node : config.path(ROUTES)) {
      String name = routeName(node);
      if (name.isEmpty()) {
        return from(newHash, config); // a route without a name or id: named by its position
      }
      positions.put(name, position++);
      if (routesToReread.contains(name)) {
        edit.removeRoute(name);
        routeNodes.put(name, node);
      }
    }
    for (Map.Entry<String, JsonNode> e : routeNodes.entrySet()) {
      edit.addRoute(e.getValue());
    }
    return next(newHash, edit, services, config, index.with(edit.removed, edit.added, positions));
  }

  /**
   * Whether the routes {@code routes} adds are the last ones of {@code config}'s routes, in the
   * same order (then nothing was inserted among the others).
   */
  private static boolean addedAtTheEnd(JsonNode config, CollectionChanges routes) {
    JsonNode all = config.path(ROUTES);
    int at = all.size() - routes.added().size();
    if (at < 0) {
      return false;
    }
    for (String key : routes.added().keySet()) {
      if (!key.equals(textOrNull(all.get(at++), routes.keyField()))) {
        return false;
      }
    }
    return true;
  }

  /** The table made by {@code edit}, with {@code nextIndex}. */
  private RoutingTable next(
      String newHash,
      Edit edit,
      @Nullable CollectionChanges services,
      JsonNode config,
      RouteIndex nextIndex) {
    Map<String, Integer> servicePositionsNow = servicePositions;
    if (services != null && !services.added().isEmpty()) {
      Map<String, Integer> next = new HashMap<>();
      int p = 0;
      for (JsonNode node : config.path(SERVICES)) {
        next.put(String.valueOf(textOrNull(node, "name")), p++);
      }
      servicePositionsNow = Map.copyOf(next);
    }
    return new RoutingTable(
        newHash,
        edit.services,
        edit.serviceNodes,
        edit.serviceIds,
        edit.routes,
        edit.routeIds,
        edit.byService,
        servicePositionsNow,
        nextIndex,
        false,
        false);
  }

  /** Whether a change to the services is one this table does not make in place. */
  private boolean needsWholeRead(CollectionChanges services) {
    if (!services.removed().isEmpty()) {
      return true; // a route may still name it: the whole read refuses that as it should
    }
    for (JsonNode node : services.added().values()) {
      if (node.path(ROUTES).isArray() && !node.path(ROUTES).isEmpty()) {
        return true;
      }
    }
    for (Map.Entry<String, JsonNode> e : services.updated().entrySet()) {
      JsonNode node = e.getValue();
      if (node.path(ROUTES).isArray() && !node.path(ROUTES).isEmpty()) {
        return true;
      }
      String name = textOrNull(node, "name");
      String before =
          services.keyField().equals("name") ? e.getKey() : serviceNameById.get(e.getKey());
      if (name == null || !name.equals(before)) {
        return true; // renamed
      }
      String id = textOrNull(node, "id");
      String idBefore = idOfService(name);
      if (id == null ? idBefore != null : !id.equals(idBefore)) {
        return true; // a route may name it by its old id
      }
    }
    return !services.keyField().equals("name") && !services.keyField().equals("id");
  }

  private @Nullable String idOfService(String name) {
    JsonNode node = serviceNodes.get(name);
    return node == null ? null : textOrNull(node, "id");
  }

  /** The next table's maps and index changes, made one entity at a time. */
  private final class Edit {
    ShardedMap<String, Service> services = servicesByName;
    ShardedMap<String, JsonNode> serviceNodes = RoutingTable.this.serviceNodes;
    ShardedMap<String, String> serviceIds = serviceNameById;
    ShardedMap<String, Route> routes = routesByName;
    ShardedMap<String, String> routeIds = routeNameById;
    ShardedMap<String, Set<String>> byService = routeNamesByService;
    final List<Route> removed = new ArrayList<>();
    final List<Route> added = new ArrayList<>();

    Service putService(JsonNode node, boolean isNew) {
      ObjectNode alone = JsonNodeFactory.instance.objectNode();
      alone.putArray(SERVICES).add(node);
      Service service = KongRoutes.from(hash, alone).services().get(0);
      String where = "service '" + service.name() + "'";
      if (isNew && services.containsKey(service.name())) {
        throw new IllegalArgumentException(
            where + " is defined twice; service names must be unique");
      }
      String id = textOrNull(node, "id");
      if (isNew && id != null && serviceIds.containsKey(id)) {
        throw new IllegalArgumentException(where + ": id " + id + " is used by another service");
      }
      services = services.with(service.name(), service);
      serviceNodes = serviceNodes.with(service.name(), node);
      if (id != null) {
        serviceIds = serviceIds.with(id, service.name());
      }
      return service;
    }

    void removeRoute(String name) {
      Route route = routes.get(name);
      if (route == null) {
        return;
      }
      routes = routes.without(name);
      removed.add(route);
      String service = route.service().name();
      Set<String> of = byService.get(service);
      if (of != null) {
        Set<String> rest = new HashSet<>(of);
        rest.remove(name);
        byService =
            rest.isEmpty() ? byService.without(service) : byService.with(service, Set.copyOf(rest));
      }
    }

    void addRoute(JsonNode node) {
      // The route is read and checked by the same code as a whole configuration, in a
      // configuration of its own with the one service it names.
      ObjectNode alone = JsonNodeFactory.instance.objectNode();
      JsonNode serviceNode = referencedServiceNode(node);
      if (serviceNode != null) {
        alone.putArray(SERVICES).add(serviceNode);
      }
      alone.putArray(ROUTES).add(node);
      Route route = KongRoutes.from(hash, alone).routes().get(0);
      if (routes.containsKey(route.name())) {
        throw new IllegalArgumentException(
            "route '" + route.name() + "' is defined twice; route names must be unique");
      }
      routes = routes.with(route.name(), route);
      added.add(route);
      String id = textOrNull(node, "id");
      if (id != null) {
        routeIds = routeIds.with(id, route.name());
      }
      String service = route.service().name();
      Set<String> of = byService.get(service);
      Set<String> more = new HashSet<>(of == null ? Set.of() : of);
      more.add(route.name());
      byService = byService.with(service, Set.copyOf(more));
    }

    private @Nullable JsonNode referencedServiceNode(JsonNode route) {
      JsonNode ref = route.path("service");
      String key =
          ref.isTextual()
              ? ref.textValue()
              : ref.path("name").isTextual()
                  ? ref.path("name").textValue()
                  : ref.path("id").isTextual() ? ref.path("id").textValue() : null;
      if (key == null) {
        return null; // KongRoutes says what is wrong with the reference
      }
      String name = ref.path("id").isTextual() && !ref.has("name") ? null : key;
      JsonNode byName = name == null ? null : serviceNodes.get(name);
      if (byName != null) {
        return byName;
      }
      String viaId = serviceIds.get(key);
      return viaId == null ? null : serviceNodes.get(viaId);
    }
  }

  private static String routeName(JsonNode node) {
    String name = textOrNull(node, "name");
    if (name != null) {
      return name;
    }
    String id = textOrNull(node, "id");
    return id != null ? id : "";
  }

  private static @Nullable String textOrNull(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value != null && value.isTextual() ? value.textValue() : null;
  }

  /** The hash of the configuration this table was read from. */
  public String hash() {
    return hash;
  }

  /** The services, in configuration order (sorted on each call: not for the request path). */
  public List<Service> services() {
    List<Service> out = new ArrayList<>(servicesByName.size());
    servicesByName.forEach((name, service) -> out.add(service));
    out.sort(
        Comparator.comparingInt(s -> servicePositions.getOrDefault(s.name(), Integer.MAX_VALUE)));
    return List.copyOf(out);
  }

  /**
   * The routes, in configuration order (nested routes first, then top-level ones); sorted on each
   * call: not for the request path.
   */
  public List<Route> routes() {
    List<Route> out = new ArrayList<>(routesByName.size());
    routesByName.forEach((name, route) -> out.add(route));
    out.sort(Comparator.comparingInt(index::position));
    return List.copyOf(out);
  }

  /** How many routes the table has. */
  public int routeCount() {
    return routesByName.size();
  }

  /** How many services the table has. */
  public int serviceCount() {
    return servicesByName.size();
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
        + hash
        + ", services="
        + servicesByName.size()
        + ", routes="
        + routesByName.size()
        + "}";
  }
}
