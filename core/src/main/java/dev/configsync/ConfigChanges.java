package dev.configsync;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What changed in a configuration against the one that ran before it, entity by entity, so that a
 * gateway can update its routing table in place instead of rebuilding it. See {@link
 * ConfigSnapshot#changes()}.
 *
 * <p>A configuration is read as collections of entities (see {@code docs/protocol.md}, "Entities"):
 * each top-level array whose entities all carry a distinct key ({@code id}, else the collection's
 * natural key, such as a service's {@code name}) is a keyed collection, and its changes are listed
 * per entity in {@link #collections()}. Every other top-level member (an array without usable keys,
 * {@code _format_version}, any other value) is compared as a whole: when it was added, removed or
 * changed, its name is in {@link #replaced()} and the gateway reads it again from the new
 * configuration.
 *
 * <p>Immutable; the maps and sets are read-only and iterate in the configuration's order.
 *
 * @param initial true when there was no configuration before, or when the one before is no longer
 *     known (see {@link ConfigSnapshot#changes()}): every entity is then {@code added}, and a
 *     gateway reads the configuration whole instead of updating in place
 * @param collections the keyed collections that changed, by top-level name; collections without
 *     changes are absent
 * @param replaced the top-level members that changed as a whole
 */
public record ConfigChanges(
    boolean initial, Map<String, CollectionChanges> collections, Set<String> replaced) {

  /** Copies the maps and sets, keeping their order. */
  public ConfigChanges {
    collections = Collections.unmodifiableMap(new LinkedHashMap<>(collections));
    replaced = Collections.unmodifiableSet(new LinkedHashSet<>(replaced));
  }

  /** Whether nothing changed at all. */
  public boolean isEmpty() {
    return collections.isEmpty() && replaced.isEmpty();
  }

  /** How many entities were added, updated or removed, over all collections. */
  public int entityCount() {
    int count = 0;
    for (CollectionChanges c : collections.values()) {
      count += c.added().size() + c.updated().size() + c.removed().size();
    }
    return count;
  }

  /**
   * The changes of one keyed collection. Each map goes from an entity's key to the entity.
   *
   * @param keyField the member that keys this collection's entities ({@code id}, {@code name}, ...)
   * @param added entities whose key the previous configuration did not have, as they are now
   * @param updated entities whose key both configurations have, with different content, as they are
   *     now
   * @param removed entities whose key the new configuration no longer has, as they were
   * @param moved whether the entities both configurations have (updated or not) are in another
   *     order relative to each other: one was placed elsewhere. Added and removed entities do not
   *     count. When false, a gateway that uses configuration order (as a tie-break, say) keeps the
   *     order it knows; when true, it reads the order again. A collection whose only change is its
   *     order is listed, with empty maps.
   */
  public record CollectionChanges(
      String keyField,
      Map<String, JsonNode> added,
      Map<String, JsonNode> updated,
      Map<String, JsonNode> removed,
      boolean moved) {

    /** Copies the maps, keeping their order. */
    public CollectionChanges {
      Objects.requireNonNull(keyField, "keyField");
      added = Collections.unmodifiableMap(new LinkedHashMap<>(added));
      updated = Collections.unmodifiableMap(new LinkedHashMap<>(updated));
      removed = Collections.unmodifiableMap(new LinkedHashMap<>(removed));
    }

    /** Changes in which no entity that both configurations have was moved. */
    public CollectionChanges(
        String keyField,
        Map<String, JsonNode> added,
        Map<String, JsonNode> updated,
        Map<String, JsonNode> removed) {
      this(keyField, added, updated, removed, false);
    }

    /** Whether nothing in this collection changed: no entity, and not their order. */
    public boolean isEmpty() {
      return added.isEmpty() && updated.isEmpty() && removed.isEmpty() && !moved;
    }
  }
}
