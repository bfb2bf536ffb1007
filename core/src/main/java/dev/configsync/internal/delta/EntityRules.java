package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * How a configuration splits into entities (documented in {@code docs/protocol.md}, "Entities").
 *
 * <p>Each top-level array is a collection. Its entities are keyed by the first of the collection's
 * key fields that every entity has as a string, with no two entities alike: {@code id} (Kong's
 * primary key, present on every entity of a configuration Kong exports), then the collection's
 * natural key when Kong declares a unique one ({@link #NATURAL_KEYS}). A collection that no key
 * field keys is replaced as a whole; so is every top-level member that is not an array.
 */
public final class EntityRules {
  /** The primary key, tried first for every collection. */
  public static final String ID = "id";

  /**
   * Kong's unique natural keys (the {@code endpoint_key} of its entity schemas), by collection. Not
   * listed, because Kong does not make them unique on their own: {@code plugins}, {@code targets}
   * (a target is unique within its upstream only), {@code certificates}, {@code ca_certificates}.
   */
  static final Map<String, String> NATURAL_KEYS =
      Map.ofEntries(
          Map.entry("services", "name"),
          Map.entry("routes", "name"),
          Map.entry("consumers", "username"),
          Map.entry("consumer_groups", "name"),
          Map.entry("upstreams", "name"),
          Map.entry("snis", "name"),
          Map.entry("vaults", "prefix"),
          Map.entry("key_sets", "name"),
          Map.entry("keys", "name"),
          Map.entry("partials", "name"),
          Map.entry("workspaces", "name"));

  private EntityRules() {}

  /** The key fields a collection of this name may be keyed by, in order of preference. */
  public static List<String> keyFields(String collection) {
    String natural = NATURAL_KEYS.get(collection);
    return natural == null ? List.of(ID) : List.of(ID, natural);
  }

  /**
   * The key of {@code entity} under {@code field}: the field's string value, or null when the
   * entity is not an object or has no string there.
   */
  public static @Nullable String keyOf(JsonNode entity, String field) {
    JsonNode key = entity.get(field);
    return key != null && key.isTextual() ? key.textValue() : null;
  }

  /** Whether every element of {@code array} has a distinct string under {@code field}. */
  public static boolean keys(JsonNode array, String field) {
    Set<String> seen = new HashSet<>(Math.max(16, array.size() * 2));
    for (JsonNode entity : array) {
      String key = keyOf(entity, field);
      if (key == null || !seen.add(key)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The field that keys the collection {@code name} with value {@code array}, or null when it is
   * not a keyed collection (not an array, or no key field keys it).
   */
  public static @Nullable String keyField(String name, @Nullable JsonNode array) {
    if (array == null || !array.isArray()) {
      return null;
    }
    for (String field : keyFields(name)) {
      if (keys(array, field)) {
        return field;
      }
    }
    return null;
  }

  /**
   * The field that keys both versions of the collection {@code name}, preferring {@code id}; null
   * when they are not both arrays or no field keys both. A version that is absent counts as empty.
   */
  public static @Nullable String commonKeyField(
      String name, @Nullable JsonNode before, @Nullable JsonNode after) {
    if ((before != null && !before.isArray()) || (after != null && !after.isArray())) {
      return null;
    }
    for (String field : keyFields(name)) {
      if ((before == null || keys(before, field)) && (after == null || keys(after, field))) {
        return field;
      }
    }
    return null;
  }
}
