package dev.configsync.routes;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The services and routes of one configuration, in the Kong-like subset that gateways built on
 * configsync route by ({@code docs/spring.md} and the example gateway's README list it). Immutable
 * and safe to share between threads. The Spring Cloud Gateway module turns them into gateway
 * routes; the example gateway matches requests against them.
 *
 * <p>{@link #from} checks the whole configuration and refuses it with an {@link
 * IllegalArgumentException} naming the offending service or route, so that a configuration the
 * gateway cannot serve is refused before it replaces a good one.
 */
public final class KongRoutes {
  /** Kong's default service {@code read_timeout}, in milliseconds. */
  public static final int DEFAULT_READ_TIMEOUT_MS = 60_000;

  /**
   * Where requests go: an HTTP or HTTPS origin and an optional base path.
   *
   * @param name the service's name, unique in the configuration
   * @param protocol {@code http} or {@code https}
   * @param host the upstream host name or address
   * @param port the upstream port
   * @param path the base path every proxied path is appended to; empty for none
   * @param readTimeout how long to wait for the upstream's response headers
   */
  public record Service(
      String name, String protocol, String host, int port, String path, Duration readTimeout) {

    /** The upstream origin, {@code scheme://host:port}, with an IPv6 literal in brackets. */
    public String origin() {
      String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
      return protocol + "://" + h + ":" + port;
    }
  }

  /**
   * A rule sending matching requests to a service.
   *
   * @param name the route's name (its {@code name}, else its {@code id}, else one made up from the
   *     service's name and the route's position)
   * @param service the service matching requests go to
   * @param paths path prefixes, any of which must match; empty for any path
   * @param hosts host names (exact, {@code *.suffix} or {@code prefix.*}, lower case), any of which
   *     must match; empty for any host
   * @param methods HTTP methods (upper case), any of which must match; empty for any method
   * @param stripPath whether the matched path prefix is removed before proxying
   */
  public record Route(
      String name,
      Service service,
      List<String> paths,
      List<String> hosts,
      Set<String> methods,
      boolean stripPath) {

    /** Copies the collections. */
    public Route {
      paths = List.copyOf(paths);
      hosts = List.copyOf(hosts);
      methods = Set.copyOf(methods);
    }
  }

  private final String hash;
  private final List<Service> services;
  private final List<Route> routes;

  private KongRoutes(String hash, List<Service> services, List<Route> routes) {
    this.hash = hash;
    this.services = List.copyOf(services);
    this.routes = List.copyOf(routes);
  }

  /**
   * Reads the services and routes of {@code config} (a configuration's {@code config_table}).
   *
   * @param hash the configuration's hash, reported on every response served with this table
   * @throws IllegalArgumentException when the configuration uses something outside the supported
   *     subset, or is inconsistent (a route naming a service the configuration does not define, two
   *     services of the same name, ...); the message says which entry and what to fix
   */
  public static KongRoutes from(String hash, JsonNode config) {
    Objects.requireNonNull(hash, "hash");
    if (!config.isObject()) {
      throw new IllegalArgumentException("the configuration must be a JSON object");
    }
    Map<String, Service> byName = new HashMap<>();
    Map<String, Service> byId = new HashMap<>();
    List<Service> services = new ArrayList<>();
    List<RouteSpec> specs = new ArrayList<>();

    List<JsonNode> serviceNodes = array(config, "services", "the configuration");
    for (int i = 0; i < serviceNodes.size(); i++) {
      JsonNode node = serviceNodes.get(i);
      String where = "service #" + (i + 1);
      requireObject(node, where);
      Service service = service(node, where);
      where = "service '" + service.name() + "'";
      if (byName.putIfAbsent(service.name(), service) != null) {
        throw new IllegalArgumentException(
            where + " is defined twice; service names must be unique");
      }
      String id = text(node, "id", where);
      if (id != null && byId.putIfAbsent(id, service) != null) {
        throw new IllegalArgumentException(where + ": id " + id + " is used by another service");
      }
      services.add(service);
      List<JsonNode> nested = array(node, "routes", where);
      for (int j = 0; j < nested.size(); j++) {
        specs.add(
            new RouteSpec(nested.get(j), where + ", route #" + (j + 1), specs.size() + 1, service));
      }
    }
    List<JsonNode> routeNodes = array(config, "routes", "the configuration");
    for (int i = 0; i < routeNodes.size(); i++) {
      specs.add(new RouteSpec(routeNodes.get(i), "route #" + (i + 1), specs.size() + 1, null));
    }

    List<Route> routes = new ArrayList<>();
    Set<String> routeNames = new HashSet<>();
    for (RouteSpec spec : specs) {
      Route route = route(spec, byName, byId);
      if (!routeNames.add(route.name())) {
        throw new IllegalArgumentException(
            "route '" + route.name() + "' is defined twice; route names must be unique");
      }
      routes.add(route);
    }
    return new KongRoutes(hash, services, routes);
  }

  /**
   * The names of the plugins a configuration uses: the {@code name} of each entry of every {@code
   * plugins} array, at any depth (Kong nests plugins in services, routes and consumers as well as
   * at the top). Entries with {@code "enabled": false} count too: the control plane counts them.
   */
  public static Set<String> pluginsUsed(JsonNode config) {
    Set<String> names = new TreeSet<>();
    Deque<JsonNode> pending = new ArrayDeque<>(); // not recursive: a configuration may nest deeply
    pending.push(config);
    while (!pending.isEmpty()) {
      JsonNode node = pending.pop();
      if (node.isObject()) {
        JsonNode plugins = node.path("plugins");
        if (plugins.isArray()) {
          for (JsonNode plugin : plugins) {
            if (plugin.path("name").isTextual()) {
              names.add(plugin.path("name").asText());
            }
          }
        }
      }
      for (JsonNode child : node) {
        if (child.isContainerNode()) {
          pending.push(child);
        }
      }
    }
    return Collections.unmodifiableSet(names);
  }

  /** The hash of the configuration this table was read from. */
  public String hash() {
    return hash;
  }

  /** The services, in configuration order. */
  public List<Service> services() {
    return services;
  }

  /** The routes, in configuration order (nested routes first, then top-level ones). */
  public List<Route> routes() {
    return routes;
  }

  @Override
  public String toString() {
    return "KongRoutes{hash="
        + hash
        + ", services="
        + services.size()
        + ", routes="
        + routes.size()
        + "}";
  }

  // ---- matching --------------------------------------------------------------------------------

  /**
   * Whether a request's host matches one of a route's {@code hosts}: exactly, by a {@code *.suffix}
   * wildcard, or by a {@code prefix.*} wildcard (a wildcard stands for at least one character).
   *
   * @param hosts the route's hosts, lower case
   * @param requestHost the request's host, lower case and without a port; null or empty matches
   *     nothing
   */
  public static boolean hostMatches(List<String> hosts, @Nullable String requestHost) {
    if (requestHost == null || requestHost.isEmpty()) {
      return false;
    }
    for (String h : hosts) {
      if (h.startsWith("*.")) {
        if (requestHost.endsWith(h.substring(1)) && requestHost.length() > h.length() - 1) {
          return true;
        }
      } else if (h.endsWith(".*")) {
        if (requestHost.startsWith(h.substring(0, h.length() - 1))
            && requestHost.length() > h.length() - 1) {
          return true;
        }
      } else if (h.equals(requestHost)) {
        return true;
      }
    }
    return false;
  }

  /**
   * A {@code Host} header without its port: {@code example.com:8443} gives {@code example.com},
   * {@code [::1]:8443} gives {@code ::1}; a bare IPv6 address is left as it is.
   */
  public static String hostWithoutPort(String host) {
    if (host.startsWith("[")) { // [v6]:port
      int end = host.indexOf(']');
      return end > 0 ? host.substring(1, end) : host;
    }
    int colon = host.lastIndexOf(':');
    return colon >= 0 && host.indexOf(':') == colon ? host.substring(0, colon) : host;
  }

  /**
   * The service's base path and the rest of the request path, joined with one slash: the path to
   * ask the upstream for.
   */
  public static String join(String base, String rest) {
    if (base.isEmpty()) {
      return rest.isEmpty() ? "/" : rest.startsWith("/") ? rest : "/" + rest;
    }
    if (rest.isEmpty()) {
      return base;
    }
    String trimmed = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    return trimmed + (rest.startsWith("/") ? rest : "/" + rest);
  }

  // ---- reading the configuration ----------------------------------------------------------------

  /** A route entry and where it was found: nested in a service, or at the top level (null). */
  private record RouteSpec(JsonNode node, String where, int position, @Nullable Service nestedIn) {}

  private static Service service(JsonNode node, String where) {
    String name = text(node, "name", where);
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException(
          where
              + " has no name; every service needs a unique 'name' (routes and telemetry use it)");
    }
    where = "service '" + name + "'";
    String protocol;
    String host;
    int port;
    String path;
    String url = text(node, "url", where);
    if (url != null) {
      for (String field : List.of("protocol", "host", "port", "path")) {
        if (present(node, field)) {
          throw new IllegalArgumentException(
              where
                  + " has both 'url' and '"
                  + field
                  + "'; give either 'url' or the separate fields");
        }
      }
      URI uri;
      try {
        uri = new URI(url);
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException(where + ": 'url' is not a valid URL: " + url, e);
      }
      protocol = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      host = uri.getHost() == null ? "" : uri.getHost();
      port = uri.getPort();
      path = uri.getRawPath() == null ? "" : uri.getRawPath();
      if (uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getUserInfo() != null) {
        throw new IllegalArgumentException(
            where + ": 'url' must not have a query, fragment or user info: " + url);
      }
    } else {
      String p = text(node, "protocol", where);
      protocol = p == null ? "http" : p.toLowerCase(Locale.ROOT);
      String h = text(node, "host", where);
      if (h == null || h.isBlank()) {
        throw new IllegalArgumentException(where + " needs a 'url' or a 'host'");
      }
      host = h;
      port = present(node, "port") ? integer(node, "port", where) : -1;
      String pa = text(node, "path", where);
      path = pa == null ? "" : pa;
    }
    if (!protocol.equals("http") && !protocol.equals("https")) {
      throw new IllegalArgumentException(
          where + ": protocol '" + protocol + "' is not supported; use http or https");
    }
    if (host.isEmpty()) {
      throw new IllegalArgumentException(where + ": 'url' has no host: " + url);
    }
    if (port == -1) {
      port = protocol.equals("https") ? 443 : 80;
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(where + ": port must be from 1 to 65535, got: " + port);
    }
    if (!path.isEmpty() && !path.startsWith("/")) {
      throw new IllegalArgumentException(where + ": path must start with '/', got: " + path);
    }
    int readTimeout =
        present(node, "read_timeout")
            ? integer(node, "read_timeout", where)
            : DEFAULT_READ_TIMEOUT_MS;
    if (readTimeout < 1) {
      throw new IllegalArgumentException(
          where + ": read_timeout must be a positive number of milliseconds, got: " + readTimeout);
    }
    return new Service(name, protocol, host, port, path, Duration.ofMillis(readTimeout));
  }

  private static Route route(
      RouteSpec spec, Map<String, Service> byName, Map<String, Service> byId) {
    JsonNode node = spec.node();
    String where = spec.where();
    requireObject(node, where);
    String name = text(node, "name", where);
    String id = text(node, "id", where);
    if (name != null) {
      where = "route '" + name + "'";
    }
    Service service = referencedService(node, where, byName, byId);
    Service nestedIn = spec.nestedIn();
    if (nestedIn != null) {
      if (service != null && !service.equals(nestedIn)) {
        throw new IllegalArgumentException(
            where
                + " is nested in service '"
                + nestedIn.name()
                + "' but names service '"
                + service.name()
                + "'");
      }
      service = nestedIn;
    }
    if (service == null) {
      throw new IllegalArgumentException(
          where
              + " names no service; give \"service\": \"<name>\" or {\"name\": \"<name>\"}"
              + " (or nest the route in its service)");
    }
    if (name == null) {
      name = id != null ? id : service.name() + "/route-" + spec.position();
    }

    for (String field : List.of("headers", "snis", "sources", "destinations")) {
      if (present(node, field) && !node.get(field).isEmpty()) {
        throw new IllegalArgumentException(
            where + ": matching on '" + field + "' is not supported by this gateway; remove it");
      }
    }
    if (present(node, "preserve_host") && node.get("preserve_host").asBoolean(false)) {
      throw new IllegalArgumentException(
          where + ": preserve_host is not supported by this gateway; remove it or set it to false");
    }
    if (present(node, "protocols")) {
      List<String> protocols = strings(node, "protocols", where);
      if (!protocols.contains("http") && !protocols.contains("https")) {
        throw new IllegalArgumentException(
            where
                + ": protocols "
                + protocols
                + " has neither http nor https; this gateway only"
                + " proxies HTTP");
      }
    }

    List<String> paths = strings(node, "paths", where);
    for (String p : paths) {
      if (p.startsWith("~")) {
        throw new IllegalArgumentException(
            where + ": regular expression path '" + p + "' is not supported; use path prefixes");
      }
      if (!p.startsWith("/")) {
        throw new IllegalArgumentException(where + ": path must start with '/', got: " + p);
      }
    }
    List<String> hosts = new ArrayList<>();
    for (String h : strings(node, "hosts", where)) {
      String host = h.toLowerCase(Locale.ROOT);
      String bare =
          host.startsWith("*.")
              ? host.substring(2)
              : host.endsWith(".*") ? host.substring(0, host.length() - 2) : host;
      if (bare.isEmpty() || bare.contains("*") || bare.contains(":")) {
        throw new IllegalArgumentException(
            where
                + ": host '"
                + h
                + "' is not supported; give a host name, '*.suffix' or"
                + " 'prefix.*', without a port");
      }
      hosts.add(host);
    }
    Set<String> methods = new LinkedHashSet<>();
    for (String m : strings(node, "methods", where)) {
      methods.add(m.toUpperCase(Locale.ROOT));
    }
    if (paths.isEmpty() && hosts.isEmpty() && methods.isEmpty()) {
      throw new IllegalArgumentException(
          where + " matches nothing; give at least one of 'paths', 'hosts' or 'methods'");
    }
    boolean stripPath = true;
    if (present(node, "strip_path")) {
      JsonNode value = node.get("strip_path");
      if (!value.isBoolean()) {
        throw new IllegalArgumentException(where + ": strip_path must be true or false");
      }
      stripPath = value.booleanValue();
    }
    return new Route(name, service, paths, hosts, methods, stripPath);
  }

  private static @Nullable Service referencedService(
      JsonNode node, String where, Map<String, Service> byName, Map<String, Service> byId) {
    if (!present(node, "service")) {
      return null;
    }
    JsonNode ref = node.get("service");
    String key;
    Service found;
    if (ref.isTextual()) {
      key = ref.textValue();
      found = byName.containsKey(key) ? byName.get(key) : byId.get(key);
    } else if (ref.isObject() && ref.hasNonNull("name")) {
      key = text(ref, "name", where + ", service");
      found = key == null ? null : byName.get(key);
    } else if (ref.isObject() && ref.hasNonNull("id")) {
      key = text(ref, "id", where + ", service");
      found = key == null ? null : byId.get(key);
    } else {
      throw new IllegalArgumentException(
          where + ": 'service' must be a name, {\"name\": ...} or {\"id\": ...}");
    }
    if (found == null) {
      throw new IllegalArgumentException(
          where + " names service '" + key + "', which the configuration does not define");
    }
    return found;
  }

  private static boolean present(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value != null && !value.isNull();
  }

  private static void requireObject(JsonNode node, String where) {
    if (!node.isObject()) {
      throw new IllegalArgumentException(where + " must be a JSON object");
    }
  }

  private static List<JsonNode> array(JsonNode node, String field, String where) {
    if (!present(node, field)) {
      return List.of();
    }
    JsonNode value = node.get(field);
    if (!value.isArray()) {
      throw new IllegalArgumentException(where + ": '" + field + "' must be an array");
    }
    List<JsonNode> out = new ArrayList<>();
    value.forEach(out::add);
    return out;
  }

  private static List<String> strings(JsonNode node, String field, String where) {
    List<String> out = new ArrayList<>();
    for (JsonNode item : array(node, field, where)) {
      if (!item.isTextual() || item.textValue().isEmpty()) {
        throw new IllegalArgumentException(where + ": '" + field + "' must hold non-empty strings");
      }
      out.add(item.textValue());
    }
    return out;
  }

  private static @Nullable String text(JsonNode node, String field, String where) {
    if (!present(node, field)) {
      return null;
    }
    JsonNode value = node.get(field);
    if (!value.isTextual()) {
      throw new IllegalArgumentException(where + ": '" + field + "' must be a string");
    }
    return value.textValue();
  }

  private static int integer(JsonNode node, String field, String where) {
    JsonNode value = node.get(field);
    if (value == null || !value.canConvertToExactIntegral() || !value.canConvertToInt()) {
      throw new IllegalArgumentException(where + ": '" + field + "' must be an integer");
    }
    return value.intValue();
  }
}
