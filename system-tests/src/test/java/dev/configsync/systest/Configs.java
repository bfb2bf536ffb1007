package dev.configsync.systest;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Declarative configurations the tests publish, as JSON text. */
final class Configs {
  private Configs() {}

  /** A service {@code orders} with one route, marked {@code version} so each one is distinct. */
  static String orders(String version) {
    return base(version, "http://127.0.0.1:9/orders").toString();
  }

  /** {@link #orders} with an upstream of the test's own, reachable through a gateway. */
  static ObjectNode base(String version, String upstream) {
    ObjectNode config = AdminClient.JSON.createObjectNode();
    config.put("_format_version", "3.0");
    ObjectNode service = config.putArray("services").addObject();
    service.put("name", "orders").put("url", upstream);
    ObjectNode route = service.putArray("routes").addObject();
    route.put("name", "orders-api");
    route.putArray("paths").add("/orders");
    config.putObject("systest").put("version", version);
    return config;
  }

  /** {@code config} with a global plugin {@code plugin} (so it uses that plugin). */
  static ObjectNode withPlugin(ObjectNode config, String plugin) {
    ArrayNode plugins = config.withArray("plugins");
    plugins.addObject().put("name", plugin).putObject("config").put("minute", 100);
    return config;
  }
}
