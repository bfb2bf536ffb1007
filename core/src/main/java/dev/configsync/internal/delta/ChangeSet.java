package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.FrozenNodes;
import dev.configsync.internal.delta.DeltaRejectedException.Reason;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The difference between two configurations, as the rules of {@link EntityRules} read them: entity
 * upserts, deletes and placements per keyed collection, and whole-value replacements of every other
 * top-level member. Made by {@link ConfigDiff#diff}, applied by {@link IndexedConfig#apply};
 * written to and read from JSON ({@link #toJson}, {@link #fromJson}) for the wire and for a
 * journal:
 *
 * <pre>{@code
 * {"collections":{"routes":{"key":"id","upsert":[{"id":"r1",...}],"delete":["r0"],
 *                           "after":[["r1","r7"],["r2",null]]}},
 *  "set":{"_format_version":"3.0"},"unset":["old_member"]}
 * }</pre>
 *
 * <p>Every member is optional but {@code key}. An upserted entity carries its own key in its key
 * field. Immutable; every entity and value is a frozen tree.
 *
 * @param collections the keyed collections that change, each present in the base with its key
 *     field; in the order they are applied
 * @param set top-level members that take a new value as a whole (added or replaced)
 * @param unset top-level members that are removed
 * @param order the result's top-level members in their order, when that is not what applying the
 *     rest gives (the base's members in their order, then the new ones in {@code set} order); empty
 *     otherwise
 */
public record ChangeSet(
    Map<String, CollectionDelta> collections,
    Map<String, JsonNode> set,
    Set<String> unset,
    List<String> order) {

  /** The change set that changes nothing. */
  public static final ChangeSet EMPTY = new ChangeSet(Map.of(), Map.of(), Set.of());

  /** A change set that keeps the order applying it gives to the top-level members. */
  public ChangeSet(
      Map<String, CollectionDelta> collections, Map<String, JsonNode> set, Set<String> unset) {
    this(collections, set, unset, List.of());
  }

  /**
   * Checks that no top-level member is changed twice, and freezes the values.
   *
   * @throws DeltaRejectedException (MALFORMED) when a member is both set and unset, or both set (or
   *     unset) and changed entity by entity
   */
  public ChangeSet {
    Map<String, JsonNode> frozenSet = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : set.entrySet()) {
      frozenSet.put(e.getKey(), FrozenNodes.frozen(Objects.requireNonNull(e.getValue())));
    }
    for (String name : unset) {
      if (frozenSet.containsKey(name)) {
        throw malformed("member " + name + " is both set and unset");
      }
    }
    for (String name : collections.keySet()) {
      if (frozenSet.containsKey(name) || unset.contains(name)) {
        throw malformed("member " + name + " is both replaced and changed entity by entity");
      }
    }
    if (new LinkedHashSet<>(order).size() != order.size()) {
      throw malformed("order names a member twice");
    }
    collections = Collections.unmodifiableMap(new LinkedHashMap<>(collections));
    set = Collections.unmodifiableMap(frozenSet);
    unset = Collections.unmodifiableSet(new LinkedHashSet<>(unset));
    order = List.copyOf(order);
  }

  /** Whether this change set changes nothing. */
  public boolean isEmpty() {
    return collections.isEmpty() && set.isEmpty() && unset.isEmpty() && order.isEmpty();
  }

  /**
   * How many entities it upserts, deletes or moves, plus the members it sets or unsets (and one for
   * a new order of the members).
   */
  public int size() {
    int size = set.size() + unset.size() + (order.isEmpty() ? 0 : 1);
    for (CollectionDelta c : collections.values()) {
      size += c.upserts().size() + c.deletes().size() + c.placements().size();
    }
    return size;
  }

  /**
   * The changes to one keyed collection.
   *
   * <p>Applied to a base collection keyed by {@code keyField}, the result's order is: the base's
   * entities in their order, without the deleted ones and the placed ones, an upserted entity that
   * the base has taking its predecessor's place; each placed entity right after the entity its
   * placement names (first when it names none), placements that name one anchor in their order,
   * each followed by what is placed after it; then the upserted entities that are new and not
   * placed, in upsert order. {@link ConfigDiff#diff} places exactly what it must for the result to
   * have the target's order.
   *
   * @param keyField the member that keys the collection
   * @param upserts entities that are added or replaced, by key, in order
   * @param deletes keys of entities that are removed
   * @param placements where entities go: each an upserted key or a key of the base that moves
   */
  public record CollectionDelta(
      String keyField,
      Map<String, JsonNode> upserts,
      Set<String> deletes,
      List<Placement> placements) {

    /**
     * Checks that every upserted entity is an object carrying its key in the key field, that no key
     * is both upserted and deleted, and that placements name neither deleted keys nor a key twice;
     * freezes the entities.
     *
     * @throws DeltaRejectedException (MALFORMED) when a check fails
     */
    public CollectionDelta {
      Objects.requireNonNull(keyField, "keyField");
      Map<String, JsonNode> frozen = new LinkedHashMap<>();
      for (Map.Entry<String, JsonNode> e : upserts.entrySet()) {
        JsonNode entity = e.getValue();
        if (!entity.isObject() || !e.getKey().equals(EntityRules.keyOf(entity, keyField))) {
          throw malformed("an upserted entity lacks its key in field " + keyField);
        }
        if (deletes.contains(e.getKey())) {
          throw malformed("a key is both upserted and deleted");
        }
        frozen.put(e.getKey(), FrozenNodes.frozen(entity));
      }
      Set<String> placed = new HashSet<>();
      for (Placement p : placements) {
        if (!placed.add(p.key())) {
          throw malformed("a key is placed twice");
        }
        if (deletes.contains(p.key()) || (p.after() != null && deletes.contains(p.after()))) {
          throw malformed("a placement names a deleted key");
        }
        if (p.key().equals(p.after())) {
          throw malformed("an entity is placed after itself");
        }
      }
      upserts = Collections.unmodifiableMap(frozen);
      deletes = Collections.unmodifiableSet(new LinkedHashSet<>(deletes));
      placements = List.copyOf(placements);
    }

    /** Upserts of {@code entities}, each keyed by its own {@code keyField}; nothing else. */
    public static CollectionDelta upserting(String keyField, List<JsonNode> entities) {
      Map<String, JsonNode> upserts = new LinkedHashMap<>();
      for (JsonNode entity : entities) {
        String key = EntityRules.keyOf(entity, keyField);
        if (key == null || upserts.put(key, entity) != null) {
          throw malformed(
              "an upserted entity lacks its key in field " + keyField + ", or repeats it");
        }
      }
      return new CollectionDelta(keyField, upserts, Set.of(), List.of());
    }

    /** Whether this changes nothing. */
    public boolean isEmpty() {
      return upserts.isEmpty() && deletes.isEmpty() && placements.isEmpty();
    }
  }

  /**
   * Where one entity goes in its collection.
   *
   * @param key the entity's key
   * @param after the key of the entity it follows, or null for the first place
   */
  public record Placement(String key, @Nullable String after) {
    /** Checks the key. */
    public Placement {
      Objects.requireNonNull(key, "key");
    }
  }

  // ---- JSON ---------------------------------------------------------------------------------

  /** This change set as JSON, in the format above. */
  public ObjectNode toJson() {
    JsonNodeFactory nodes = JsonNodeFactory.instance;
    ObjectNode out = nodes.objectNode();
    if (!collections.isEmpty()) {
      ObjectNode cs = out.putObject("collections");
      for (Map.Entry<String, CollectionDelta> e : collections.entrySet()) {
        CollectionDelta d = e.getValue();
        ObjectNode c = cs.putObject(e.getKey());
        c.put("key", d.keyField());
        if (!d.upserts().isEmpty()) {
          ArrayNode upsert = c.putArray("upsert");
          d.upserts().values().forEach(upsert::add);
        }
        if (!d.deletes().isEmpty()) {
          ArrayNode delete = c.putArray("delete");
          d.deletes().forEach(delete::add);
        }
        if (!d.placements().isEmpty()) {
          ArrayNode after = c.putArray("after");
          for (Placement p : d.placements()) {
            after.addArray().add(p.key()).add(p.after());
          }
        }
      }
    }
    if (!set.isEmpty()) {
      ObjectNode s = out.putObject("set");
      set.forEach(s::set);
    }
    if (!unset.isEmpty()) {
      ArrayNode u = out.putArray("unset");
      unset.forEach(u::add);
    }
    if (!order.isEmpty()) {
      ArrayNode o = out.putArray("order");
      order.forEach(o::add);
    }
    return out;
  }

  /**
   * Reads a change set from its JSON ({@link #toJson}). Members it does not know are refused, so
   * that a newer format is not half applied.
   *
   * @throws DeltaRejectedException (MALFORMED) when the JSON is not a change set
   */
  public static ChangeSet fromJson(JsonNode json) {
    requireObject(json, "a change set");
    onlyMembers(json, "a change set", Set.of("collections", "set", "unset", "order"));
    Map<String, CollectionDelta> collections = new LinkedHashMap<>();
    JsonNode cs = json.get("collections");
    if (cs != null) {
      requireObject(cs, "collections");
      for (Map.Entry<String, JsonNode> e : cs.properties()) {
        collections.put(e.getKey(), collectionFromJson(e.getKey(), e.getValue()));
      }
    }
    Map<String, JsonNode> set = new LinkedHashMap<>();
    JsonNode s = json.get("set");
    if (s != null) {
      requireObject(s, "set");
      for (Map.Entry<String, JsonNode> e : s.properties()) {
        set.put(e.getKey(), e.getValue());
      }
    }
    Set<String> unset = new LinkedHashSet<>(strings(json.get("unset"), "unset"));
    return new ChangeSet(collections, set, unset, strings(json.get("order"), "order"));
  }

  private static CollectionDelta collectionFromJson(String name, JsonNode c) {
    String what = "collection " + name;
    requireObject(c, what);
    onlyMembers(c, what, Set.of("key", "upsert", "delete", "after"));
    JsonNode key = c.get("key");
    if (key == null || !key.isTextual()) {
      throw malformed(what + " has no key field name");
    }
    String keyField = key.textValue();
    List<JsonNode> upserts = new ArrayList<>();
    JsonNode upsert = c.get("upsert");
    if (upsert != null) {
      requireArray(upsert, what + " upsert");
      upsert.forEach(upserts::add);
    }
    Set<String> deletes = new LinkedHashSet<>();
    for (String k : strings(c.get("delete"), what + " delete")) {
      if (!deletes.add(k)) {
        throw malformed(what + " deletes a key twice");
      }
    }
    List<Placement> placements = new ArrayList<>();
    JsonNode after = c.get("after");
    if (after != null) {
      requireArray(after, what + " after");
      for (JsonNode p : after) {
        if (!p.isArray()
            || p.size() != 2
            || !p.get(0).isTextual()
            || !(p.get(1).isTextual() || p.get(1).isNull())) {
          throw malformed(what + " after: each placement must be [key, key or null]");
        }
        placements.add(new Placement(p.get(0).textValue(), p.get(1).textValue()));
      }
    }
    CollectionDelta upserting = CollectionDelta.upserting(keyField, upserts);
    return new CollectionDelta(keyField, upserting.upserts(), deletes, placements);
  }

  private static List<String> strings(@Nullable JsonNode array, String what) {
    if (array == null) {
      return List.of();
    }
    requireArray(array, what);
    List<String> out = new ArrayList<>(array.size());
    for (JsonNode s : array) {
      if (!s.isTextual()) {
        throw malformed(what + " must hold strings only");
      }
      out.add(s.textValue());
    }
    return out;
  }

  private static void onlyMembers(JsonNode object, String what, Set<String> known) {
    for (Map.Entry<String, JsonNode> e : object.properties()) {
      if (!known.contains(e.getKey())) {
        throw malformed(what + " has an unknown member " + e.getKey());
      }
    }
  }

  private static void requireObject(JsonNode node, String what) {
    if (!node.isObject()) {
      throw malformed(what + " must be a JSON object");
    }
  }

  private static void requireArray(JsonNode node, String what) {
    if (!node.isArray()) {
      throw malformed(what + " must be a JSON array");
    }
  }

  static DeltaRejectedException malformed(String message) {
    return new DeltaRejectedException(Reason.MALFORMED, "malformed change set: " + message);
  }
}
