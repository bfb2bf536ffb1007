package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.internal.Versions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * The protocol's compatibility rules: a node gets a configuration only when its version and its
 * plugins (capabilities) fit. Stateless.
 */
final class Compatibility {
  /** The longest plugin name a node may declare: {@value} characters. */
  static final int MAX_PLUGIN_NAME_LENGTH = 128;

  private Compatibility() {}

  /** A verdict: the status, and a sentence saying why when it is not NORMAL. */
  record Verdict(DataPlaneSyncStatus status, String reason) {
    static final Verdict NORMAL = new Verdict(DataPlaneSyncStatus.NORMAL, "");
  }

  /** Same major, and the node's minor not newer than the control plane's. */
  static Verdict checkVersion(String nodeVersion, String controlPlaneVersion) {
    Optional<int[]> node = Versions.majorMinor(nodeVersion);
    Optional<int[]> cp = Versions.majorMinor(controlPlaneVersion);
    if (node.isEmpty()) {
      return new Verdict(
          DataPlaneSyncStatus.VERSION_INCOMPATIBLE,
          "node_version '"
              + LogSafe.text(nodeVersion, Versions.MAX_LENGTH)
              + "' is not of the form MAJOR.MINOR[.PATCH]");
    }
    int[] n = node.get();
    int[] c = cp.orElseThrow();
    if (n[0] != c[0]) {
      return new Verdict(
          DataPlaneSyncStatus.VERSION_INCOMPATIBLE,
          "node version "
              + LogSafe.text(nodeVersion, Versions.MAX_LENGTH)
              + " has another major version than the control plane's "
              + controlPlaneVersion);
    }
    if (n[1] > c[1]) {
      return new Verdict(
          DataPlaneSyncStatus.VERSION_INCOMPATIBLE,
          "node version "
              + LogSafe.text(nodeVersion, Versions.MAX_LENGTH)
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
      Optional<int[]> n = Versions.majorMinor(nodeVersion);
      Optional<int[]> c = Versions.majorMinor(cpVersion);
      if (n.isEmpty() || c.isEmpty() || n.get()[0] != c.get()[0]) {
        return new Verdict(
            DataPlaneSyncStatus.PLUGIN_VERSION_INCOMPATIBLE,
            "plugin '"
                + LogSafe.text(name, MAX_PLUGIN_NAME_LENGTH)
                + "' is version "
                + LogSafe.text(nodeVersion, Versions.MAX_LENGTH)
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
    return PluginUse.of(config, null).all();
  }

  /**
   * The plugins a configuration uses ({@link #pluginsUsed}), by top-level member, so that the
   * plugins of a configuration that shares members with this one (the result of an entity edit,
   * which keeps every untouched member as the same node) are found by walking only the members that
   * changed. Immutable.
   */
  record PluginUse(JsonNode config, Map<String, Set<String>> byMember, Set<String> all) {

    /**
     * The plugins {@code config} uses; the members that are the very nodes of {@code previous}'s
     * are not walked again.
     */
    // Identity, not equality: only a member that is the same node is known to be unchanged.
    @SuppressWarnings("ReferenceEquality")
    static PluginUse of(JsonNode config, @Nullable PluginUse previous) {
      Map<String, Set<String>> byMember = new java.util.HashMap<>();
      Set<String> all = new TreeSet<>();
      for (Map.Entry<String, JsonNode> member : config.properties()) {
        String name = member.getKey();
        JsonNode value = member.getValue();
        Set<String> used =
            previous != null && previous.config().get(name) == value
                ? Objects.requireNonNull(previous.byMember().get(name))
                : memberPlugins(name, value);
        byMember.put(name, used);
        all.addAll(used);
      }
      return new PluginUse(config, Map.copyOf(byMember), Set.copyOf(all));
    }
  }

  /** The plugins the top-level member {@code name} uses. */
  private static Set<String> memberPlugins(String name, JsonNode value) {
    Set<String> names = new TreeSet<>();
    if (name.equals("plugins") && value.isArray()) {
      for (JsonNode plugin : value) {
        JsonNode pluginName = plugin.path("name");
        if (pluginName.isTextual()) {
          names.add(pluginName.asText());
        }
      }
    }
    if (value.isContainerNode()) {
      names.addAll(walk(value));
    }
    return Set.copyOf(names);
  }

  /** Every {@code plugins} array's names at any depth under {@code config}. */
  private static Set<String> walk(JsonNode config) {
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
