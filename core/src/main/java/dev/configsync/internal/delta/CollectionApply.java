package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.configsync.ConfigChanges;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.FrozenNodes;
import dev.configsync.internal.delta.ChangeSet.CollectionDelta;
import dev.configsync.internal.delta.ChangeSet.Placement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** One collection's change applied: the new array, its fragments, and what changed. */
final class CollectionApply {
  private final IndexedConfig.Elements base;
  private final CollectionDelta delta;
  final ArrayNode array;

  // The new collection's fragments, keys and key hashes, the first `count` of each.
  private final byte[][] fragments;
  private final String[] keys;
  private final int[] keyHashes;
  private int count;

  private final Map<String, JsonNode> added = new LinkedHashMap<>();
  private final Map<String, JsonNode> updated = new LinkedHashMap<>();
  private final Map<String, JsonNode> removed = new LinkedHashMap<>();

  /** The base's version of each updated entity, by key. */
  final Map<String, JsonNode> before = new LinkedHashMap<>();

  /** Base index of each placed entity the base has. */
  private final Map<String, Integer> placedInBase = new HashMap<>();

  /** Upserted keys the base has. */
  private final Set<String> upsertedInBase = new HashSet<>();

  /** Placed keys by the key they follow; {@code null}'s are under {@link #first}. */
  private final Map<String, List<String>> followers = new HashMap<>();

  private final List<String> first = new ArrayList<>();
  private int placedEmitted;

  CollectionApply(String name, IndexedConfig.Elements base, CollectionDelta delta) {
    this.base = base;
    this.delta = delta;
    String k = delta.keyField();
    if (!base.keyedBy(k)) {
      throw IndexedConfig.mismatch("collection " + name + " is not keyed by " + k + " in the base");
    }
    for (Placement p : delta.placements()) {
      String anchor = p.after();
      (anchor == null ? first : followers.computeIfAbsent(anchor, a -> new ArrayList<>()))
          .add(p.key());
    }
    JsonNode entities = base.array;
    int n = entities.size();
    String[] baseKeys = base.keysIn(k);
    int[] baseHashes = baseKeys == null ? null : base.keyHashes;
    boolean placing = !delta.placements().isEmpty();
    if (placing) {
      // Placed entities can go before their place in the base: find them first.
      for (int i = 0; i < n; i++) {
        String key = baseKeys != null ? baseKeys[i] : ConfigDiff.keyOf(entities.get(i), k);
        if (isPlaced(key)) {
          placedInBase.put(key, i);
          if (delta.upserts().containsKey(key)) {
            upsertedInBase.add(key);
          }
        }
      }
      for (Placement p : delta.placements()) {
        if (!placedInBase.containsKey(p.key()) && !delta.upserts().containsKey(p.key())) {
          throw IndexedConfig.mismatch(
              "collection " + name + ": a placed key is neither upserted nor in the base");
        }
      }
    }
    int capacity = n + delta.upserts().size();
    this.array = FrozenNodes.FACTORY.arrayNode(capacity);
    this.fragments = new byte[capacity][];
    this.keys = new String[capacity];
    this.keyHashes = new int[capacity];
    // Without placements, an element whose key's hash is none of the change's keys' is the
    // base's, as it was: it is copied without a look at its entity or its key.
    int[] touched = placing || baseHashes == null ? null : touchedHashes();
    int[] scanHashes = touched == null ? new int[0] : Objects.requireNonNull(baseHashes);
    String[] scanKeys = touched == null ? new String[0] : Objects.requireNonNull(baseKeys);
    emitFollowers(null);
    int untouchedFrom = 0; // the run of untouched elements before i starts here
    for (int i = 0; i < n; i++) {
      if (touched != null && !touches(touched, scanHashes[i])) {
        continue;
      }
      copyUntouched(untouchedFrom, i, scanKeys, scanHashes);
      untouchedFrom = i + 1;
      JsonNode entity = entities.get(i);
      String key = baseKeys != null ? baseKeys[i] : ConfigDiff.keyOf(entity, k);
      if (delta.deletes().contains(key)) {
        removed.put(key, entity);
        continue;
      }
      JsonNode upserted = delta.upserts().get(key);
      if (upserted != null) {
        upsertedInBase.add(key);
        if (!ConfigDiff.same(upserted, entity)) {
          updated.put(key, upserted);
          before.put(key, entity);
        }
      }
      if (placing && placedInBase.containsKey(key)) {
        continue;
      }
      if (upserted != null) {
        emit(upserted, ConfigHash.render(upserted), i, key);
      } else {
        emit(entity, base.fragments[i], i, key);
      }
      emitFollowers(key);
    }
    copyUntouched(untouchedFrom, n, scanKeys, scanHashes);
    for (Map.Entry<String, JsonNode> e : delta.upserts().entrySet()) {
      String key = e.getKey();
      if (!upsertedInBase.contains(key) && !isPlaced(key)) {
        added.put(key, e.getValue());
        emit(e.getValue(), ConfigHash.render(e.getValue()), -1, key);
        emitFollowers(key);
      }
    }
    if (removed.size() != delta.deletes().size()) {
      throw IndexedConfig.mismatch("collection " + name + ": a deleted key is not in the base");
    }
    if (placedEmitted != delta.placements().size()) {
      throw IndexedConfig.mismatch(
          "collection " + name + ": a placement follows a key the result does not have");
    }
  }

  private boolean isPlaced(String key) {
    // Placements are few: a set is made only for many.
    List<Placement> placements = delta.placements();
    if (placements.size() <= 8) {
      for (Placement p : placements) {
        if (p.key().equals(key)) {
          return true;
        }
      }
      return false;
    }
    return placedKeys().contains(key);
  }

  private @Nullable Set<String> placedKeys;

  private Set<String> placedKeys() {
    Set<String> keys = placedKeys;
    if (keys == null) {
      keys = new HashSet<>();
      for (Placement p : delta.placements()) {
        keys.add(p.key());
      }
      placedKeys = keys;
    }
    return keys;
  }

  /** Emits the entities placed after {@code anchor}, depth first, without recursion. */
  private void emitFollowers(@Nullable String anchor) {
    List<String> direct = anchor == null ? first : followers.get(anchor);
    if (direct == null || direct.isEmpty()) {
      return;
    }
    Deque<Iterator<String>> stack = new ArrayDeque<>();
    stack.push(direct.iterator());
    while (!stack.isEmpty()) {
      Iterator<String> it = stack.peek();
      if (!it.hasNext()) {
        stack.pop();
        continue;
      }
      String key = it.next();
      placedEmitted++;
      JsonNode upsert = delta.upserts().get(key);
      if (upsert != null) {
        boolean inBase = upsertedInBase.contains(key);
        if (!inBase) {
          added.put(key, upsert);
        }
        emit(
            upsert,
            ConfigHash.render(upsert),
            inBase ? Objects.requireNonNull(placedInBase.get(key)) : -1,
            key);
      } else {
        int i = Objects.requireNonNull(placedInBase.get(key));
        emit(base.array.get(i), base.fragments[i], i, key);
      }
      List<String> next = followers.get(key);
      if (next != null) {
        stack.push(next.iterator());
      }
    }
  }

  /** Whether {@code hash} is one of the sorted {@code touched}. */
  private static boolean touches(int[] touched, int hash) {
    return touched.length == 1 ? touched[0] == hash : Arrays.binarySearch(touched, hash) >= 0;
  }

  /**
   * Copies the base's elements {@code from} to {@code to} (exclusive), which the change does not
   * touch, as they are, in bulk ({@code keys} and {@code hashes} are the base's; empty when no
   * element is ever untouched).
   */
  private void copyUntouched(int from, int to, String[] keys, int[] hashes) {
    int length = to - from;
    if (length <= 0) {
      return;
    }
    FrozenNodes.appendRange(array, base.array, from, to);
    System.arraycopy(base.fragments, from, fragments, count, length);
    System.arraycopy(keys, from, this.keys, count, length);
    System.arraycopy(hashes, from, keyHashes, count, length);
    count += length;
    lastBaseIndex = to - 1;
  }

  /** The sorted hash codes of the keys the change deletes or upserts. */
  private int[] touchedHashes() {
    int[] hashes = new int[delta.deletes().size() + delta.upserts().size()];
    int i = 0;
    for (String key : delta.deletes()) {
      hashes[i++] = key.hashCode();
    }
    for (String key : delta.upserts().keySet()) {
      hashes[i++] = key.hashCode();
    }
    Arrays.sort(hashes);
    return hashes;
  }

  /**
   * Appends an entity with its key; {@code baseIndex} is its place in the base, or -1 when it is
   * new.
   */
  private void emit(JsonNode entity, byte[] fragment, int baseIndex, String key) {
    array.add(entity);
    fragments[count] = fragment;
    keys[count] = key;
    keyHashes[count++] = key.hashCode();
    if (baseIndex >= 0) {
      moved = moved || baseIndex < lastBaseIndex;
      lastBaseIndex = baseIndex;
    }
  }

  /** The base's place of the last base entity emitted; whether one came before an earlier one. */
  private int lastBaseIndex = -1;

  private boolean moved;

  IndexedConfig.Elements elements() {
    // Its entities are the base's and the change set's, all frozen: no walk over them.
    FrozenNodes.freezeOver(array);
    return new IndexedConfig.Elements(
        array,
        Arrays.copyOf(fragments, count),
        delta.keyField(),
        Arrays.copyOf(keys, count),
        Arrays.copyOf(keyHashes, count));
  }

  ConfigChanges.CollectionChanges changes() {
    return new ConfigChanges.CollectionChanges(delta.keyField(), added, updated, removed, moved);
  }
}
