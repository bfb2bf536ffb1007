package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The protocol's compatibility rules: a node gets a configuration only when its version and its
 * plugins (capabilities) fit. Stateless.
 */
final class Compatibility {
  /**
   * MAJOR.MINOR, then optionally one of {@code . - +} and letters, digits and {@code . - + _ ~}
   * only: no spaces, control characters or escape sequences, so a version that passes can be logged
   * and shown as it is.
   */
  private static final Pattern VERSION =
      Pattern.compile("(\\d{1,9})\\.(\\d{1,9})(?:[.\\-+][0-9A-Za-z.\\-+_~]*)?");

  /** The longest version (a node's, or a plugin's) accepted: {@value} characters. */
  static final int MAX_VERSION_LENGTH = 64;

  /** The longest plugin name a node may declare: {@value} characters. */
  static final int MAX_PLUGIN_NAME_LENGTH = 128;

  private Compatibility() {}

  /** A verdict: the status, and a sentence saying why when it is not NORMAL. */
  record Verdict(DataPlaneSyncStatus status, String reason) {
    static final Verdict NORMAL = new Verdict(DataPlaneSyncStatus.NORMAL, "");
  }

  /** Major and minor of a MAJOR.MINOR[...] version, or empty when it has another form. */
  static Optional<int[]> majorMinor(String version) {
    if (version.length() > MAX_VERSION_LENGTH) {
      return Optional.empty();
    }
    Matcher m = VERSION.matcher(version);
    if (!m.matches()) {
      return Optional.empty();
    }
    return Optional.of(new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))});
  }

  /** Same major, and the node's minor not newer than the control plane's. */
  static Verdict checkVersion(String nodeVersion, String controlPlaneVersion) {
    Optional<int[]> node = majorMinor(nodeVersion);
    Optional<int[]> cp = majorMinor(controlPlaneVersion);
    if (node.isEmpty()) {
      return new Verdict(
          DataPlaneSyncStatus.VERSION_INCOMPATIBLE,
          "node_version '"
              + LogSafe.text(nodeVersion, MAX_VERSION_LENGTH)
              + "' is not of the form MAJOR.MINOR[.PATCH]");
    }
    int[] n = node.get();
    int[] c = cp.orElseThrow();
    if (n[0] != c[0]) {
      return new Verdict(
          DataPlaneSyncStatus.VERSION_INCOMPATIBLE,
          "node version "
              + LogSafe.text(nodeVersion, MAX_VERSION_LENGTH)
              + " has another major version than the control plane's "
              + controlPlaneVersion);
    }
    if (n[1] > c[1]) {
      return new Verdict(
          DataPlaneSyncStatus.VERSION_INCOMPATIBLE,
          "node version "
              + LogSafe.text(nodeVersion, MAX_VERSION_LENGTH)
              + " is newer than the control plane's "
              + controlPlaneVersion
              + "; upgrade the control plane first");
    }
    return Verdict.NORMAL;
  }

  /**
   * Every plugin the configuration uses must be declared by the node; where the control plane knows
   * a plugin's version, the node's must have the same major.
   */
  static Verdict checkPlugins(
      Set<String> used, Map<String, String> nodePlugins, Map<String, String> controlPlanePlugins) {
    for (String name : used) {
      String nodeVersion = nodePlugins.get(name);
      if (nodeVersion == null) {
        return new Verdict(
            DataPlaneSyncStatus.PLUGIN_SET_INCOMPATIBLE,
            "the configuration uses plugin '"
                + LogSafe.text(name, MAX_PLUGIN_NAME_LENGTH)
                + "', which the node did not declare");
      }
      String cpVersion = controlPlanePlugins.get(name);
      if (cpVersion == null) {
        continue;
      }
      Optional<int[]> n = majorMinor(nodeVersion);
      Optional<int[]> c = majorMinor(cpVersion);
      if (n.isEmpty() || c.isEmpty() || n.get()[0] != c.get()[0]) {
        return new Verdict(
            DataPlaneSyncStatus.PLUGIN_VERSION_INCOMPATIBLE,
            "plugin '"
                + LogSafe.text(name, MAX_PLUGIN_NAME_LENGTH)
                + "' is version "
                + LogSafe.text(nodeVersion, MAX_VERSION_LENGTH)
                + " on the node but "
                + cpVersion
                + " on the control plane (the major versions must match)");
      }
    }
    return Verdict.NORMAL;
  }

  /**
   * The names of the plugins a configuration uses: the {@code name} of every object in every array
   * held by a {@code plugins} key, at any depth (Kong's declarative format nests plugins under
   * services, routes and consumers as well as at the top).
   */
  static Set<String> pluginsUsed(JsonNode config) {
    Set<String> names = new TreeSet<>();
    // An explicit stack rather than recursion: the parser allows deep nesting.
    Deque<JsonNode> pending = new ArrayDeque<>();
    pending.push(config);
    while (!pending.isEmpty()) {
      JsonNode node = pending.pop();
      if (node.isObject()) {
        for (Map.Entry<String, JsonNode> field : node.properties()) {
          JsonNode value = field.getValue();
          if (field.getKey().equals("plugins") && value.isArray()) {
            for (JsonNode plugin : value) {
              JsonNode name = plugin.path("name");
              if (name.isTextual()) {
                names.add(name.asText());
              }
            }
          }
          if (value.isContainerNode()) {
            pending.push(value);
          }
        }
      } else if (node.isArray()) {
        for (JsonNode element : node) {
          if (element.isContainerNode()) {
            pending.push(element);
          }
        }
      }
    }
    return Set.copyOf(names);
  }
}
