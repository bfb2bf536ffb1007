package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigChanges;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.FrozenNodes;
import dev.configsync.internal.delta.ChangeSet.CollectionDelta;
import dev.configsync.internal.delta.DeltaRejectedException.Reason;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A frozen configuration table together with what re-hashes it cheaply: Kong's serialization of
 * each entity (and of each other top-level member), cached as bytes, and its {@link ConfigHashes}.
 *
 * <p>{@link #apply} makes the configuration a {@link ChangeSet} describes with structural sharing:
 * the new table shares with this one every member the change set does not touch, and every entity
 * it does not upsert (the same nodes, and the same cached bytes). Only the new table, the arrays of
 * the changed collections and the upserted entities are new. The new hashes are computed from the
 * cached bytes: a changed part (routes, services, plugins, upstreams, targets, the rest) is fed to
 * MD5 again from its fragments, with only the upserted entities rendered; unchanged parts keep
 * their hashes. The result is bit for bit {@link ConfigHash#configHashes} of the new table.
 *
 * <p>Immutable and safe to share between threads. Building one from a whole table ({@link #of})
 * renders every entity once, about the cost of one {@link ConfigHash#configHashes}; the cached
 * bytes take about as much memory as the configuration's serialization (less than its JSON).
 */
public final class IndexedConfig {
  private static final String[] GRANULAR = {
    "routes", "services", "plugins", "upstreams", "targets"
  };
  private static final Set<String> GRANULAR_NAMES = Set.of(GRANULAR);
  private static final byte[] EMPTY = "{}".getBytes(StandardCharsets.US_ASCII);

  private final JsonNode table;
  private final Map<String, Part> parts;
  private final ConfigHashes hashes;

  /** The hash of the table without the granular members (not kept in {@link ConfigHashes}). */
  private final String rest;

  private IndexedConfig(
      JsonNode table,
      Map<String, Part> parts,
      @Nullable IndexedConfig previous,
      @Nullable Set<String> changed) {
    this.table = table;
    this.parts = parts;
    String[] granular = new String[GRANULAR.length];
    for (int i = 0; i < GRANULAR.length; i++) {
      String name = GRANULAR[i];
      if (previous != null && changed != null && !changed.contains(name)) {
        granular[i] = previousHash(previous.hashes, i);
        continue;
      }
      Part part = parts.get(name);
      if (part == null) {
        granular[i] = ConfigHash.NONE;
      } else if (part instanceof Elements elements) {
        granular[i] =
            elements.hashAlone(
                previous != null && previous.parts.get(name) instanceof Elements before
                    ? before
                    : null);
      } else {
        ConfigHash.Stream stream = new ConfigHash.Stream();
        part.write(stream);
        granular[i] = stream.finish();
      }
    }
    boolean restChanged =
        previous == null
            || changed == null
            || changed.stream().anyMatch(name -> !GRANULAR_NAMES.contains(name));
    this.rest = restChanged || previous == null ? hashRest(table, parts) : previous.rest;
    this.hashes =
        ConfigHash.combine(granular[0], granular[1], granular[2], granular[3], granular[4], rest);
  }

  /**
   * Indexes a whole configuration table: renders each entity and computes its hashes.
   *
   * @param table a configuration table (a JSON object); frozen if it is not already
   * @throws IllegalArgumentException when it is not an object, or holds a node JSON cannot express
   */
  public static IndexedConfig of(JsonNode table) {
    if (!table.isObject()) {
      throw new IllegalArgumentException(
          "a configuration table must be a JSON object, not " + table.getNodeType());
    }
    JsonNode frozen = FrozenNodes.frozen(table);
    Map<String, Part> parts = new HashMap<>();
    for (Map.Entry<String, JsonNode> e : frozen.properties()) {
      parts.put(e.getKey(), Part.of(e.getKey(), e.getValue()));
    }
    return new IndexedConfig(frozen, parts, null, null);
  }

  /**
   * The field the collection {@code name} is keyed by, as {@link EntityRules#keyField} gives it for
   * this configuration (kept from indexing: no pass over the collection), or null when {@code name}
   * is not a keyed collection here (absent, not an array, or without a distinct key).
   */
  public @Nullable String keyField(String name) {
    return parts.get(name) instanceof Elements elements ? elements.keyField : null;
  }

  /**
   * For tests and measurements: the element of the granular member {@code name} its hash was fed
   * from (0 when hashed from its start, or when it is not an array of more than five elements).
   */
  int hashedFrom(String name) {
    return parts.get(name) instanceof Elements elements ? elements.hashedFrom : 0;
  }

  /** The configuration table: a frozen JSON object. */
  public JsonNode table() {
    return table;
  }

  /** Its configuration hash and granular hashes, as {@link ConfigHash#configHashes} gives them. */
  public ConfigHashes hashes() {
    return hashes;
  }

  /**
   * The outcome of applying a change set.
   *
   * @param config the new configuration
   * @param changes what changed against the base, entity by entity
   * @param updatedBefore for each collection the change set changed entity by entity, the base's
   *     version of each entity in {@code changes}' {@code updated}, by key (what a caller that
   *     keeps per-entity figures subtracts; {@code removed} has the removed ones)
   */
  public record Applied(
      IndexedConfig config,
      ConfigChanges changes,
      Map<String, Map<String, JsonNode>> updatedBefore) {}

  /**
   * Applies {@code changes} and checks that the result has the hashes it was announced with.
   *
   * @param expected the hashes the result must have (all six)
   * @throws DeltaRejectedException when the change set does not fit this configuration ({@code
   *     BASE_MISMATCH}), breaks a rule ({@code MALFORMED}), or gives other hashes ({@code
   *     HASH_MISMATCH}); this configuration is unchanged in every case
   */
  public Applied apply(ChangeSet changes, ConfigHashes expected) {
    Applied applied = apply(changes);
    ConfigHashes got = applied.config().hashes();
    if (!got.equals(expected)) {
      throw new DeltaRejectedException(
          Reason.HASH_MISMATCH,
          "change set applied to configuration "
              + hashes.config()
              + " gives configuration "
              + got.config()
              + (got.config().equals(expected.config()) ? " with other granular hashes" : "")
              + ", not the announced "
              + expected.config());
    }
    return applied;
  }

  /**
   * Applies {@code changes}, whatever the result's hash (the side that makes a change set uses this
   * to learn the hash it announces).
   *
   * @throws DeltaRejectedException when the change set does not fit this configuration ({@code
   *     BASE_MISMATCH}) or breaks a rule ({@code MALFORMED}); this configuration is unchanged
   */
  public Applied apply(ChangeSet changes) {
    for (String name : changes.collections().keySet()) {
      if (!(parts.get(name) instanceof Elements)) {
        throw mismatch("collection " + name + " is not an array in the base configuration");
      }
    }
    for (String name : changes.unset()) {
      if (!table.has(name)) {
        throw mismatch("member " + name + " to remove is not in the base configuration");
      }
    }
    ObjectNode next = FrozenNodes.FACTORY.objectNode();
    Map<String, Part> nextParts = new HashMap<>(parts);
    Set<String> changed = new HashSet<>();
    Map<String, ConfigChanges.CollectionChanges> entityChanges = new LinkedHashMap<>();
    Map<String, Map<String, JsonNode>> updatedBefore = new LinkedHashMap<>();
    Set<String> replaced = new LinkedHashSet<>();
    for (Map.Entry<String, JsonNode> e : table.properties()) {
      String name = e.getKey();
      JsonNode value = e.getValue();
      CollectionDelta delta = changes.collections().get(name);
      JsonNode newValue = changes.set().get(name);
      if (changes.unset().contains(name)) {
        nextParts.remove(name);
        changed.add(name);
        ConfigDiff.compare(name, value, null, entityChanges, replaced);
      } else if (newValue != null) {
        next.set(name, newValue);
        nextParts.put(name, Part.of(name, newValue));
        changed.add(name);
        ConfigDiff.compare(name, value, newValue, entityChanges, replaced);
      } else if (delta != null) {
        Elements base = (Elements) Objects.requireNonNull(parts.get(name));
        CollectionApply result = new CollectionApply(name, base, delta);
        next.set(name, result.array);
        nextParts.put(name, result.elements());
        changed.add(name);
        ConfigChanges.CollectionChanges c = result.changes();
        if (!c.isEmpty()) {
          entityChanges.put(name, c);
          updatedBefore.put(name, Collections.unmodifiableMap(result.before));
        }
      } else {
        next.set(name, value);
      }
    }
    for (Map.Entry<String, JsonNode> e : changes.set().entrySet()) {
      if (!table.has(e.getKey())) {
        next.set(e.getKey(), e.getValue());
        nextParts.put(e.getKey(), Part.of(e.getKey(), e.getValue()));
        changed.add(e.getKey());
        ConfigDiff.compare(e.getKey(), null, e.getValue(), entityChanges, replaced);
      }
    }
    if (!changes.order().isEmpty()) {
      next = reordered(next, changes.order());
    }
    FrozenNodes.freezeNew(next);
    return new Applied(
        new IndexedConfig(next, nextParts, this, changed),
        new ConfigChanges(false, entityChanges, replaced),
        Collections.unmodifiableMap(updatedBefore));
  }

  /** {@code table}'s members in {@code order}, which must name each of them once. */
  private static ObjectNode reordered(ObjectNode table, List<String> order) {
    if (order.size() != table.size()) {
      throw malformed("order names " + order.size() + " members, the result has " + table.size());
    }
    ObjectNode out = FrozenNodes.FACTORY.objectNode();
    for (String name : order) {
      JsonNode value = table.get(name);
      if (value == null) {
        throw malformed("order names " + name + ", which the result does not have");
      }
      out.set(name, value);
    }
    return out;
  }

  private static DeltaRejectedException malformed(String message) {
    return new DeltaRejectedException(Reason.MALFORMED, message);
  }

  // ---- hashing ------------------------------------------------------------------------------

  private static String previousHash(ConfigHashes h, int i) {
    return switch (i) {
      case 0 -> h.routes();
      case 1 -> h.services();
      case 2 -> h.plugins();
      case 3 -> h.upstreams();
      default -> h.targets();
    };
  }

  /** Kong's hash of the table without the five granular members, from the parts. */
  private static String hashRest(JsonNode table, Map<String, Part> parts) {
    List<Map.Entry<byte[], String>> members = new ArrayList<>();
    for (Map.Entry<String, JsonNode> e : table.properties()) {
      if (!GRANULAR_NAMES.contains(e.getKey())) {
        members.add(Map.entry(e.getKey().getBytes(StandardCharsets.UTF_8), e.getKey()));
      }
    }
    // Kong sorts keys by their bytes.
    members.sort((a, b) -> Arrays.compareUnsigned(a.getKey(), b.getKey()));
    ConfigHash.Stream stream = new ConfigHash.Stream();
    stream.checkpoint();
    if (members.isEmpty()) {
      stream.raw(EMPTY[0]);
      stream.raw(EMPTY[1]);
    }
    for (Map.Entry<byte[], String> member : members) {
      String name = member.getValue();
      stream.raw(name);
      stream.raw((byte) ':');
      Objects.requireNonNull(parts.get(name)).write(stream);
      stream.raw((byte) ';');
    }
    return stream.finish();
  }

  // ---- parts --------------------------------------------------------------------------------

  /** The cached hash material of one top-level member. */
  interface Part {
    /** Writes the member's value, its check included, to {@code stream}. */
    void write(ConfigHash.Stream stream);

    static Part of(String name, JsonNode value) {
      if (!value.isArray()) {
        return new Whole(value, ConfigHash.render(value));
      }
      byte[][] fragments = new byte[value.size()][];
      for (int i = 0; i < fragments.length; i++) {
        fragments[i] = ConfigHash.render(value.get(i));
      }
      String keyField = EntityRules.keyField(name, value);
      if (keyField == null) {
        return new Elements(value, fragments, null, null, null);
      }
      String[] keys = new String[fragments.length];
      int[] keyHashes = new int[fragments.length];
      for (int i = 0; i < keys.length; i++) {
        keys[i] = ConfigDiff.keyOf(value.get(i), keyField);
        keyHashes[i] = keys[i].hashCode();
      }
      return new Elements(value, fragments, keyField, keys, keyHashes);
    }
  }

  /** A member hashed as one value. */
  private static final class Whole implements Part {
    private final JsonNode value;
    private final byte[] rendered;

    Whole(JsonNode value, byte[] rendered) {
      this.value = value;
      this.rendered = rendered;
    }

    @Override
    public void write(ConfigHash.Stream stream) {
      stream.value(value, rendered);
    }
  }

  /**
   * An array member, element by element: the array, each element's bytes, and a field known to key
   * it (null when none is known).
   *
   * <p>A granular member (routes, services, ...) is hashed on its own ({@link #hashAlone}), and
   * keeps {@linkplain ConfigHash.Mark marks} of its stream every {@value #MARK_BYTES} bytes or so:
   * the next version, which shares its first entities with this one, is hashed again from the last
   * mark before its first change, not from its start. MD5 is a chain, so the entities after the
   * change are fed again whatever we keep: a change at the end of a collection costs little, one at
   * its start what a whole hash costs.
   */
  static final class Elements implements Part {
    /** About how many bytes of fragments lie between two marks. */
    private static final int MARK_BYTES = 64 * 1024;

    final JsonNode array;
    final byte[][] fragments;
    final @Nullable String keyField;

    /** Each element's key in {@link #keyField} (null when that is null). */
    final String @Nullable [] keys;

    /**
     * The keys' hash codes, in one array: a change finds the few elements it touches by scanning
     * these, without visiting every entity (or even every key).
     */
    final int @Nullable [] keyHashes;

    /**
     * Marks of the stream of {@link #hashAlone}, set by it (once, before the {@link IndexedConfig}
     * that holds this is published); null until then, or when it was not hashed alone.
     */
    private volatile @Nullable Marks marks;

    /** The element {@link #hashAlone} started feeding from: 0 when it hashed from the start. */
    private volatile int hashedFrom;

    Elements(
        JsonNode array,
        byte[][] fragments,
        @Nullable String keyField,
        String @Nullable [] keys,
        int @Nullable [] keyHashes) {
      this.array = array;
      this.fragments = fragments;
      this.keyField = keyField;
      this.keys = keys;
      this.keyHashes = keyHashes;
    }

    /** The keys in {@code field}, when this collection keeps them. */
    String @Nullable [] keysIn(String field) {
      return field.equals(keyField) ? keys : null;
    }

    boolean keyedBy(String field) {
      return field.equals(keyField) || EntityRules.keys(array, field);
    }

    /**
     * Kong's hash of this member alone (a granular part), resumed from {@code previous}'s last mark
     * before the first element it does not share with this one, when it has one.
     */
    String hashAlone(@Nullable Elements previous) {
      int n = fragments.length;
      if (n <= 5) {
        // A short array is written with other separators: no marks, nothing to resume.
        ConfigHash.Stream stream = new ConfigHash.Stream();
        write(stream);
        return stream.finish();
      }
      Marks prior = null;
      int kept = 0;
      if (previous != null && previous.fragments.length > 5) {
        prior = previous.marks;
        kept = prior == null ? 0 : prior.before(sharedPrefix(previous.fragments, fragments));
      }
      List<Integer> at = new ArrayList<>();
      List<ConfigHash.Mark> states = new ArrayList<>();
      ConfigHash.Stream stream;
      int start;
      if (kept > 0) {
        Marks p = Objects.requireNonNull(prior);
        for (int m = 0; m < kept; m++) {
          at.add(p.at[m]);
          states.add(p.states[m]);
        }
        start = p.at[kept - 1];
        stream = ConfigHash.Stream.resume(p.states[kept - 1]);
      } else {
        start = 0;
        stream = new ConfigHash.Stream();
        stream.checkpoint();
      }
      long sinceMark = 0;
      boolean marking = true;
      for (int i = start; i < n; i++) {
        if (marking && sinceMark >= MARK_BYTES) {
          ConfigHash.Mark mark = stream.mark();
          if (mark == null) {
            marking = false; // this platform's MD5 cannot be copied
          } else {
            at.add(i);
            states.add(mark);
          }
          sinceMark = 0;
        }
        byte[] fragment = fragments[i];
        stream.value(array.get(i), fragment);
        stream.raw((byte) ';');
        sinceMark += fragment.length + 1;
      }
      int[] positions = new int[at.size()];
      for (int m = 0; m < positions.length; m++) {
        positions[m] = at.get(m);
      }
      marks = new Marks(positions, states.toArray(new ConfigHash.Mark[0]));
      hashedFrom = start;
      return stream.finish();
    }

    /** How many leading fragments {@code a} and {@code b} share (the same arrays, not copies). */
    private static int sharedPrefix(byte[][] a, byte[][] b) {
      int n = Math.min(a.length, b.length);
      int i = 0;
      while (i < n && a[i] == b[i]) {
        i++;
      }
      return i;
    }

    @Override
    public void write(ConfigHash.Stream stream) {
      stream.checkpoint();
      int n = fragments.length;
      if (n == 0) {
        stream.raw(EMPTY[0]);
        stream.raw(EMPTY[1]);
      } else if (n <= 5) {
        for (int i = 0; i < n; i++) {
          if (i > 0) {
            stream.raw((byte) ';');
          }
          stream.value(array.get(i), fragments[i]);
        }
      } else {
        for (int i = 0; i < n; i++) {
          stream.value(array.get(i), fragments[i]);
          stream.raw((byte) ';');
        }
      }
    }
  }

  /**
   * The marks of a granular member's stream: {@code states[m]} is the state before element {@code
   * at[m]} (the elements before it written, each with its separator). Positions grow.
   */
  private static final class Marks {
    final int[] at;
    final ConfigHash.Mark[] states;

    Marks(int[] at, ConfigHash.Mark[] states) {
      this.at = at;
      this.states = states;
    }

    /** How many marks lie at or before element {@code shared}: those a version can resume from. */
    int before(int shared) {
      int m = 0;
      while (m < at.length && at[m] <= shared) {
        m++;
      }
      return m;
    }
  }

  static DeltaRejectedException mismatch(String message) {
    return new DeltaRejectedException(Reason.BASE_MISMATCH, message);
  }
}
