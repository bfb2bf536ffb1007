package dev.configsync.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigSyncClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** The configurations the resilience demo publishes, and how it reads them back. */
final class DemoConfigs {
  static final ObjectMapper JSON = new ObjectMapper();

  private DemoConfigs() {}

  /**
   * A small Kong-style declarative configuration: a service and a route per name, and a
   * rate-limiting plugin when {@code rateLimit}.
   */
  static ObjectNode config(List<String> services, boolean rateLimit) {
    ObjectNode config = JSON.createObjectNode();
    config.put("_format_version", "3.0");
    ArrayNode serviceArray = config.putArray("services");
    ArrayNode routeArray = config.putArray("routes");
    for (String name : services) {
      serviceArray.addObject().put("name", name).put("url", "http://" + name + ".internal:8080");
      ObjectNode route = routeArray.addObject();
      route.put("name", name);
      route.putObject("service").put("name", name);
      route.putArray("paths").add("/" + name);
    }
    if (rateLimit) {
      ObjectNode plugin = config.putArray("plugins").addObject();
      plugin.put("name", "rate-limiting");
      plugin.putObject("config").put("minute", 600).put("policy", "local");
    }
    return config;
  }

  /** The same shape of configuration as {@link #config}, as a declarative YAML file. */
  static String yaml(List<String> services) {
    StringBuilder y = new StringBuilder("_format_version: \"3.0\"\nservices:\n");
    for (String name : services) {
      y.append("  - name: ").append(name).append('\n');
      y.append("    url: http://").append(name).append(".internal:8080\n");
    }
    y.append("routes:\n");
    for (String name : services) {
      y.append("  - name: ").append(name).append('\n');
      y.append("    service: {name: ").append(name).append("}\n");
      y.append("    paths: [/").append(name).append("]\n");
    }
    return y.toString();
  }

  static List<String> serviceNames(ConfigSyncClient client) {
    List<String> names = new ArrayList<>();
    client
        .current()
        .ifPresent(
            s -> {
              for (JsonNode service : s.config().path("services")) {
                names.add(service.path("name").asText());
              }
            });
    return names;
  }

  /**
   * The {@code config_hash} inside a stored payload (a node's cache or the control plane's store),
   * as {@code zcat config.json.gz} shows it.
   */
  static String cachedConfigHash(Path file) throws IOException {
    byte[] gz = Files.readAllBytes(file);
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      return JSON.readTree(in).path("config_hash").asText("(none)");
    }
  }
}
