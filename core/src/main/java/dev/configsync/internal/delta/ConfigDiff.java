package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigChanges;
import dev.configsync.internal.delta.ChangeSet.CollectionDelta;
import dev.configsync.internal.delta.ChangeSet.Placement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Compares two configurations (two {@code config_table} objects) by the rules of {@link
 * EntityRules}: into a {@link ChangeSet} that turns one into the other ({@link #diff}), or into the
 * {@link ConfigChanges} a gateway reads ({@link #changes}).
 *
 * <p>Entities are matched by key; two entities are the same when they are one node (trees that
 * share structure, as {@link IndexedConfig#apply} makes them, compare in time proportional to what
 * changed) or equal JSON. Runs on any thread; the trees must not change meanwhile.
 */
public final class ConfigDiff {
  private ConfigDiff() {}

  /**
   * The change set that turns {@code base} into {@code target}: applied to {@code base}, it gives a
   * tree equal to {@code target}, entity order included, so with {@code target}'s configuration
   * hash.
   *
   * @param base a configuration table (a JSON object)
   * @param target another
   * @throws IllegalArgumentException when either is not a JSON object
   */
  public static ChangeSet diff(JsonNode base, JsonNode target) {
    return diff(base, target, new Budget(Integer.MAX_VALUE));
  }

  /**
   * As {@link #diff}, but gives up, returning null, as soon as the change set would upsert, delete,
   * set or unset more than {@code maxChanges} entities and members in all: a caller that sends the
   * whole configuration when the change is large learns so without making (and encoding) it.
   *
   * @param maxChanges the most entities and members the change set may touch
   * @throws IllegalArgumentException when either tree is not a JSON object
   */
  public static @Nullable ChangeSet diffWithin(JsonNode base, JsonNode target, int maxChanges) {
    try {
      return diff(base, target, new Budget(maxChanges));
    } catch (OverBudget e) {
      return null;
    }
  }

  /** How many more entities and members a change set may touch. */
  private static final class Budget {
    private int left;

    Budget(int max) {
      left = max;
    }

    void spend(int n) {
      left -= n;
      if (left < 0) {
        throw new OverBudget();
      }
    }
  }

  /**
   * Thrown, without a stack trace, when a {@link Budget} runs out; caught in {@link #diffWithin}.
   */
  private static final class OverBudget extends RuntimeException {
    private static final long serialVersionUID = 1L;

    OverBudget() {
      super("over budget", null, false, false);
    }
  }

  private static ChangeSet diff(JsonNode base, JsonNode target, Budget budget) {
    requireObject(base, "base");
    requireObject(target, "target");
    Map<String, CollectionDelta> collections = new LinkedHashMap<>();
    Map<String, JsonNode> set = new LinkedHashMap<>();
    Set<String> unset = new LinkedHashSet<>();
    for (Map.Entry<String, JsonNode> e : target.properties()) {
      String name = e.getKey();
      JsonNode after = e.getValue();
      JsonNode before = base.get(name);
      if (before != null && isSameNode(before, after)) {
        continue;
      }
      if (before == null) {
        budget.spend(1);
        set.put(name, after);
        continue;
      }
      String keyField = EntityRules.commonKeyField(name, before, after);
      if (keyField == null) {
        if (!same(before, after)) {
          budget.spend(1);
          set.put(name, after);
        }
        continue;
      }
      CollectionDelta delta = diffCollection(keyField, before, after, budget);
      if (!delta.isEmpty()) {
        collections.put(name, delta);
      }
    }
    for (Map.Entry<String, JsonNode> e : base.properties()) {
      if (!target.has(e.getKey())) {
        budget.spend(1);
        unset.add(e.getKey());
      }
    }
    return new ChangeSet(collections, set, unset, orderIfMoved(base, target, unset));
  }

  /**
   * The target's top-level members in order, when applying the rest of the change set would give
   * another order (the base's members in their order, without the unset ones, then the new ones in
   * the target's order: a new member placed before an old one, or members swapped); else empty.
   */
  private static List<String> orderIfMoved(JsonNode base, JsonNode target, Set<String> unset) {
    List<String> applied = new ArrayList<>(target.size());
    for (Map.Entry<String, JsonNode> e : base.properties()) {
      if (!unset.contains(e.getKey())) {
        applied.add(e.getKey());
      }
    }
    for (Map.Entry<String, JsonNode> e : target.properties()) {
      if (!base.has(e.getKey())) {
        applied.add(e.getKey());
      }
    }
    List<String> wanted = new ArrayList<>(target.size());
    target.fieldNames().forEachRemaining(wanted::add);
    return wanted.equals(applied) ? List.of() : wanted;
  }

  private static CollectionDelta diffCollection(
      String keyField, JsonNode before, JsonNode after, Budget budget) {
    Map<String, Integer> baseIndex = index(before, keyField);
    int n = after.size();
    String[] keys = new String[n];
    // For each target entity: its index in the base, or -1 when it is new.
    int[] inBase = new int[n];
    Map<String, JsonNode> upserts = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      JsonNode entity = after.get(i);
      String key = keyOf(entity, keyField);
      keys[i] = key;
      Integer at = baseIndex.remove(key);
      inBase[i] = at == null ? -1 : at;
      if (at == null) {
        budget.spend(1);
        upserts.put(key, entity);
      } else {
        JsonNode old = before.get(at);
        if (!same(old, entity)) {
          budget.spend(1);
          upserts.put(key, entity);
        }
      }
    }
    budget.spend(baseIndex.size());
    Set<String> deletes = new LinkedHashSet<>(baseIndex.keySet());
    boolean[] stable = stableSurvivors(inBase);
    // New entities at the very end need no placement: they are appended in upsert order.
    int tail = n;
    while (tail > 0 && inBase[tail - 1] < 0) {
      tail--;
    }
    List<Placement> placements = new ArrayList<>();
    for (int i = 0; i < tail; i++) {
      if (!stable[i]) {
        placements.add(new Placement(keys[i], i == 0 ? null : keys[i - 1]));
      }
    }
    if (!deletes.isEmpty()) {
      // Keep the delete set in base order, for a readable change set.
      Set<String> ordered = new LinkedHashSet<>();
      for (JsonNode entity : before) {
        String key = keyOf(entity, keyField);
        if (deletes.contains(key)) {
          ordered.add(key);
        }
      }
      deletes = ordered;
    }
    return new CollectionDelta(keyField, upserts, deletes, placements);
  }

  /**
   * Marks the target entities that keep their place: a longest run of base entities that the target
   * keeps in their base order (a longest increasing subsequence of their base indexes). New
   * entities (index -1) are never stable.
   */
  private static boolean[] stableSurvivors(int[] inBase) {
    int n = inBase.length;
    boolean[] stable = new boolean[n];
    boolean increasing = true;
    int last = -1;
    for (int i = 0; i < n && increasing; i++) {
      if (inBase[i] >= 0) {
        increasing = inBase[i] > last;
        last = inBase[i];
      }
    }
    if (increasing) {
      for (int i = 0; i < n; i++) {
        stable[i] = inBase[i] >= 0;
      }
      return stable;
    }
    // Patience sorting, O(n log n): tails[l] = target position ending the best run of length l+1.
    int[] tails = new int[n];
    int[] previous = new int[n];
    int length = 0;
    int[] tailValues = new int[n];
    for (int i = 0; i < n; i++) {
      int v = inBase[i];
      if (v < 0) {
        continue;
      }
      int at = Arrays.binarySearch(tailValues, 0, length, v);
      at = at < 0 ? -at - 1 : at;
      tailValues[at] = v;
      tails[at] = i;
      previous[i] = at > 0 ? tails[at - 1] : -1;
      if (at == length) {
        length++;
      }
    }
    for (int i = length == 0 ? -1 : tails[length - 1]; i >= 0; i = previous[i]) {
      stable[i] = true;
    }
    return stable;
  }

  /**
   * What changed from {@code before} (null: nothing ran) to {@code after}, per keyed collection and
   * per top-level member replaced as a whole. A collection keyed in one and absent in the other
   * counts as empty there, so its entities are all added (or removed).
   *
   * @throws IllegalArgumentException when {@code after} (or a non-null {@code before}) is not a
   *     JSON object
   */
  public static ConfigChanges changes(@Nullable JsonNode before, JsonNode after) {
    return changes(before, after, new Budget(Integer.MAX_VALUE));
  }

  /**
   * As {@link #changes(JsonNode, JsonNode)}, but gives up, returning null, as soon as more than
   * {@code maxEntities} entities (and members replaced) have changed: a caller that would read the
   * configuration whole when most of it changed learns so without listing every change.
   *
   * @throws IllegalArgumentException as {@link #changes(JsonNode, JsonNode)}
   */
  public static @Nullable ConfigChanges changesWithin(
      @Nullable JsonNode before, JsonNode after, int maxEntities) {
    try {
      return changes(before, after, new Budget(maxEntities));
    } catch (OverBudget e) {
      return null;
    }
  }

  private static ConfigChanges changes(@Nullable JsonNode before, JsonNode after, Budget budget) {
    requireObject(after, "after");
    if (before != null) {
      requireObject(before, "before");
    }
    Map<String, ConfigChanges.CollectionChanges> collections = new LinkedHashMap<>();
    Set<String> replaced = new LinkedHashSet<>();
    for (Map.Entry<String, JsonNode> e : after.properties()) {
      String name = e.getKey();
      JsonNode now = e.getValue();
      JsonNode then = before == null ? null : before.get(name);
      if (then == null || !isSameNode(then, now)) {
        compare(name, then, now, collections, replaced, budget);
      }
    }
    if (before != null) {
      for (Map.Entry<String, JsonNode> e : before.properties()) {
        if (!after.has(e.getKey())) {
          compare(e.getKey(), e.getValue(), null, collections, replaced, budget);
        }
      }
    }
    return new ConfigChanges(before == null, collections, replaced);
  }

  /**
   * Adds what changed in the member {@code name}, from {@code then} to {@code now} (null: absent),
   * to {@code collections} (entity by entity, when both are keyed by one field) or to {@code
   * replaced}.
   */
  static void compare(
      String name,
      @Nullable JsonNode then,
      @Nullable JsonNode now,
      Map<String, ConfigChanges.CollectionChanges> collections,
      Set<String> replaced) {
    compare(name, then, now, collections, replaced, new Budget(Integer.MAX_VALUE));
  }

  private static void compare(
      String name,
      @Nullable JsonNode then,
      @Nullable JsonNode now,
      Map<String, ConfigChanges.CollectionChanges> collections,
      Set<String> replaced,
      Budget budget) {
    String keyField = EntityRules.commonKeyField(name, then, now);
    if (keyField == null) {
      if (then == null || now == null || !same(then, now)) {
        budget.spend(1);
        replaced.add(name);
      }
      return;
    }
    Map<String, JsonNode> removed = new LinkedHashMap<>();
    Map<String, Integer> positions = new HashMap<>();
    if (then != null) {
      int i = 0;
      for (JsonNode entity : then) {
        String key = keyOf(entity, keyField);
        removed.put(key, entity);
        positions.put(key, i++);
      }
    }
    Map<String, JsonNode> added = new LinkedHashMap<>();
    Map<String, JsonNode> updated = new LinkedHashMap<>();
    // Moved: the entities both have do not come in the order they had.
    int lastPosition = -1;
    boolean moved = false;
    if (now != null) {
      for (JsonNode entity : now) {
        String key = keyOf(entity, keyField);
        JsonNode old = removed.remove(key);
        if (old == null) {
          budget.spend(1);
          added.put(key, entity);
          continue;
        }
        if (!same(old, entity)) {
          budget.spend(1);
          updated.put(key, entity);
        }
        int position = Objects.requireNonNull(positions.get(key));
        moved = moved || position < lastPosition;
        lastPosition = position;
      }
    }
    budget.spend(removed.size());
    ConfigChanges.CollectionChanges c =
        new ConfigChanges.CollectionChanges(keyField, added, updated, removed, moved);
    if (!c.isEmpty()) {
      collections.put(name, c);
    }
  }

  private static Map<String, Integer> index(JsonNode collection, String keyField) {
    Map<String, Integer> index = new HashMap<>(Math.max(16, collection.size() * 2));
    for (int i = 0; i < collection.size(); i++) {
      index.put(keyOf(collection.get(i), keyField), i);
    }
    return index;
  }

  /**
   * Whether two values are equal: at once when they are one node (unchanged parts of a tree made by
   * {@link IndexedConfig#apply} are), else by content.
   */
  static boolean same(JsonNode a, JsonNode b) {
    return isSameNode(a, b) || a.equals(b);
  }

  @SuppressWarnings("ReferenceEquality") // identity first: shared nodes are what make this cheap
  private static boolean isSameNode(JsonNode a, JsonNode b) {
    return a == b;
  }

  /** The key of an entity of a collection known to be keyed by {@code keyField}. */
  static String keyOf(JsonNode entity, String keyField) {
    String key = EntityRules.keyOf(entity, keyField);
    if (key == null) {
      throw new IllegalStateException("entity without key in a keyed collection");
    }
    return key;
  }

  private static void requireObject(JsonNode node, String what) {
    if (!node.isObject()) {
      throw new IllegalArgumentException(
          what + " must be a configuration table (a JSON object), not " + node.getNodeType());
    }
  }
}
