package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigChanges;
import dev.configsync.internal.Versions;
import dev.configsync.internal.delta.IndexedConfig;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
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
   * changed; and for each array member, how many of its elements use each plugin, so that an entity
   * edit's collection is counted again from the changed entities alone ({@link #ofEdit}).
   * Immutable.
   */
  record PluginUse(
      JsonNode config,
      Map<String, Set<String>> byMember,
      Map<String, Map<String, Integer>> countsByMember,
      Set<String> all) {

    /**
     * The plugins {@code config} uses; the members that are the very nodes of {@code previous}'s
     * are not walked again.
     */
    static PluginUse of(JsonNode config, @Nullable PluginUse previous) {
      return of(config, previous, null);
    }

    /**
     * The plugins of the configuration an entity edit of {@code base} made ({@code
     * applied.config()}): when {@code previous} is {@code base}'s, a collection the edit changed
     * entity by entity is counted again from its removed, updated (before and after) and added
     * entities only, not walked whole; anything else is found as by {@link #of}.
     */
    // Identity: previous's counts are of that very tree (equal content would do, but costs a walk).
    @SuppressWarnings("ReferenceEquality")
    static PluginUse ofEdit(
        JsonNode base, IndexedConfig.Applied applied, @Nullable PluginUse previous) {
      JsonNode config = applied.config().table();
      return previous != null && previous.config() == base
          ? of(config, previous, applied)
          : of(config, previous);
    }

    // Identity, not equality: only a member that is the same node is known to be unchanged.
    @SuppressWarnings("ReferenceEquality")
    private static PluginUse of(
        JsonNode config, @Nullable PluginUse previous, IndexedConfig.@Nullable Applied edit) {
      Map<String, Set<String>> byMember = new HashMap<>();
      Map<String, Map<String, Integer>> countsByMember = new HashMap<>();
      Set<String> all = new TreeSet<>();
      for (Map.Entry<String, JsonNode> member : config.properties()) {
        String name = member.getKey();
        JsonNode value = member.getValue();
        Map<String, Integer> counts;
        Set<String> used;
        if (previous != null && previous.config().get(name) == value) {
          used = Objects.requireNonNull(previous.byMember().get(name));
          counts = previous.countsByMember().get(name);
        } else if (value.isArray()) {
          Map<String, Integer> before =
              previous == null ? null : previous.countsByMember().get(name);
          ConfigChanges.CollectionChanges changed =
              edit == null || edit.changes().replaced().contains(name)
                  ? null
                  : edit.changes().collections().get(name);
          counts =
              edit != null && before != null && changed != null
                  ? recount(name, before, changed, edit.updatedBefore().get(name))
                  : count(name, value);
          used = Set.copyOf(counts.keySet());
        } else {
          counts = null;
          used = value.isContainerNode() ? walk(value) : Set.of(); // an object member
        }
        byMember.put(name, used);
        if (counts != null) {
          countsByMember.put(name, counts);
        }
        all.addAll(used);
      }
      return new PluginUse(
          config, Map.copyOf(byMember), Map.copyOf(countsByMember), Set.copyOf(all));
    }

    /** How many elements of the array member {@code name} use each plugin. */
    private static Map<String, Integer> count(String name, JsonNode array) {
      Map<String, Integer> counts = new HashMap<>();
      Set<String> scratch = new TreeSet<>();
      for (JsonNode element : array) {
        add(counts, scratch, name, element, 1);
      }
      return Map.copyOf(counts);
    }

    /** {@code before}'s counts with the entities {@code changed} took out and put in. */
    private static Map<String, Integer> recount(
        String name,
        Map<String, Integer> before,
        ConfigChanges.CollectionChanges changed,
        @Nullable Map<String, JsonNode> updatedBefore) {
      Map<String, Integer> counts = new HashMap<>(before);
      Set<String> scratch = new TreeSet<>();
      for (JsonNode entity : changed.removed().values()) {
        add(counts, scratch, name, entity, -1);
      }
      if (updatedBefore != null) {
        for (JsonNode entity : updatedBefore.values()) {
          add(counts, scratch, name, entity, -1);
        }
      }
      for (JsonNode entity : changed.updated().values()) {
        add(counts, scratch, name, entity, 1);
      }
      for (JsonNode entity : changed.added().values()) {
        add(counts, scratch, name, entity, 1);
      }
      return Map.copyOf(counts);
    }

    /** Adds {@code sign} to the count of each plugin {@code element} uses (a count of 0 goes). */
    private static void add(
        Map<String, Integer> counts,
        Set<String> scratch,
        String member,
        JsonNode element,
        int sign) {
      scratch.clear();
      if (member.equals("plugins") && element.path("name").isTextual()) {
        scratch.add(element.path("name").asText());
      }
      if (element.isContainerNode()) {
        walkInto(element, scratch);
      }
      for (String plugin : scratch) {
        counts.merge(plugin, sign, (a, b) -> a + b == 0 ? null : a + b);
      }
    }
  }

  /** Every {@code plugins} array's names at any depth under {@code config}. */
  private static Set<String> walk(JsonNode config) {
    Set<String> names = new TreeSet<>();
    walkInto(config, names);
    return Set.copyOf(names);
  }

  /**
   * Adds every {@code plugins} array's names at any depth under {@code config} to {@code names}.
   */
  private static void walkInto(JsonNode config, Set<String> names) {
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
  }
}
