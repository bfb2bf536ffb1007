package dev.configsync.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * JSON trees that become read-only once built, so that one parsed configuration can be handed to
 * every listener without copies and without one listener being able to change what another sees.
 *
 * <p>Jackson 2 has no immutable tree. The parser builds this factory's nodes as usual; {@link
 * #freeze} then walks the tree once and flips each container to read-only, after which any mutation
 * throws {@link UnsupportedOperationException}. {@link JsonNode#deepCopy()} still gives an ordinary
 * mutable copy.
 *
 * <p>A parse that builds a whole tree itself can skip that walk with a {@link Batch}: every
 * container its factory creates shares one flag, and {@link Batch#freeze} turns them all read-only
 * at once, at no cost per node. Containers the batch's factory creates after that (for example
 * under a {@code deepCopy()}) start out mutable, like this class's {@link #FACTORY}'s.
 */
public final class FrozenNodes {
  /** The node factory whose containers can be frozen. */
  public static final JsonNodeFactory FACTORY = new Factory(null);

  private FrozenNodes() {}

  /** Freezes every container under {@code root} built by {@link #FACTORY}; returns {@code root}. */
  public static JsonNode freeze(JsonNode root) {
    return walk(root, false);
  }

  /**
   * Freezes {@code root} and the containers under it like {@link #freeze}, but does not descend
   * into a container that is frozen already: its tree is taken to be frozen (as every tree this
   * class froze is). For a tree that shares most of its nodes with a frozen one, this costs only
   * the new containers. Returns {@code root}.
   */
  public static JsonNode freezeNew(JsonNode root) {
    return walk(root, true);
  }

  /** Freezes the containers under {@code root}; with {@code skipFrozen}, not below frozen ones. */
  private static JsonNode walk(JsonNode root, boolean skipFrozen) {
    // Iterative, so that the depth of the tree never matters for the stack.
    List<JsonNode> todo = new ArrayList<>();
    todo.add(root);
    while (!todo.isEmpty()) {
      JsonNode node = todo.remove(todo.size() - 1);
      if (!node.isContainerNode() || (skipFrozen && isFrozen(node))) {
        continue;
      }
      for (JsonNode child : node) {
        if (child.isContainerNode() && !(skipFrozen && isFrozen(child))) {
          todo.add(child);
        }
      }
      if (node instanceof FrozenObject o) {
        o.freezeChildren();
      } else if (node instanceof FrozenArray a) {
        a.freezeChildren();
      }
    }
    return root;
  }

  /**
   * Freezes {@code container} (one of {@link #FACTORY}'s) alone, without looking at its children:
   * for a new container whose children the caller knows to be frozen trees (for example a new
   * version of a large array, made of the old one's frozen entities and a few frozen new ones),
   * where {@link #freezeNew} would still visit every child. With assertions on, the children are
   * checked. Returns {@code container}.
   *
   * @throws IllegalArgumentException when {@code container} is not one of this class's containers
   */
  public static JsonNode freezeOver(JsonNode container) {
    assert childrenFrozen(container) : "freezeOver: a child is not frozen";
    if (container instanceof FrozenObject o) {
      o.freezeChildren();
    } else if (container instanceof FrozenArray a) {
      a.freezeChildren();
    } else {
      throw new IllegalArgumentException(
          "not a container of FrozenNodes.FACTORY: " + container.getClass().getName());
    }
    return container;
  }

  /**
   * Appends the elements {@code from} to {@code to} (exclusive) of the array {@code source} to the
   * array {@code target} (one of {@link #FACTORY}'s, not frozen yet), as one bulk copy when both
   * are this class's arrays: storing references one by one into a large array costs a garbage
   * collector barrier each, which a bulk copy pays once per range.
   */
  public static void appendRange(ArrayNode target, JsonNode source, int from, int to) {
    if (target instanceof FrozenArray t && source instanceof FrozenArray s) {
      t.list.addAll(s.list.subList(from, to));
    } else {
      for (int i = from; i < to; i++) {
        target.add(source.get(i));
      }
    }
  }

  private static boolean childrenFrozen(JsonNode container) {
    for (JsonNode child : container) {
      if (!isFrozen(child)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether {@code node} itself is read-only: a value node, or a container of this class's that is
   * frozen. Says nothing of the containers under it.
   */
  public static boolean isFrozen(JsonNode node) {
    if (node instanceof FrozenObject o) {
      return o.map.isFrozen();
    }
    if (node instanceof FrozenArray a) {
      return a.list.isFrozen();
    }
    return !node.isContainerNode();
  }

  /**
   * {@code node} itself when every container in its tree is frozen, else a frozen copy of it made
   * with {@link #FACTORY}: a tree from anywhere becomes safe to share.
   */
  public static JsonNode frozen(JsonNode node) {
    List<JsonNode> todo = new ArrayList<>();
    todo.add(node);
    while (!todo.isEmpty()) {
      JsonNode next = todo.remove(todo.size() - 1);
      if (!isFrozen(next)) {
        return freeze(copy(node));
      }
      if (next.isContainerNode()) {
        for (JsonNode child : next) {
          todo.add(child);
        }
      }
    }
    return node;
  }

  /** A copy of {@code node} whose containers are {@link #FACTORY}'s. */
  private static JsonNode copy(JsonNode node) {
    if (node.isObject()) {
      ObjectNode copy = FACTORY.objectNode();
      for (Map.Entry<String, JsonNode> e : node.properties()) {
        copy.set(e.getKey(), copy(e.getValue()));
      }
      return copy;
    }
    if (node.isArray()) {
      ArrayNode copy = FACTORY.arrayNode(node.size());
      for (JsonNode child : node) {
        copy.add(copy(child));
      }
      return copy;
    }
    return node;
  }

  /** A new batch, for building one tree that is then frozen whole. */
  public static Batch batch() {
    return new Batch();
  }

  /**
   * The containers of one tree under construction, frozen together by one write. Use its {@link
   * #factory()} for one parse only, on one thread, then {@link #freeze} the result; the tree is
   * then safe to publish to other threads as any immutable value (through a volatile, a queue, an
   * executor).
   */
  public static final class Batch {
    private final Factory factory = new Factory(this);
    private volatile boolean frozen;
    private boolean duplicateKeys;

    private Batch() {}

    /**
     * Whether a key was put twice into one of this batch's objects before it was frozen: when the
     * batch's factory built a parsed document, that is a duplicate key in the document (a parser
     * without duplicate detection keeps the last value). Noticed for free, from the map's {@code
     * put}. Read it on the thread that built the tree.
     */
    public boolean sawDuplicateKeys() {
      return duplicateKeys;
    }

    /** The factory whose containers this batch freezes. */
    public JsonNodeFactory factory() {
      return factory;
    }

    /**
     * Makes every container {@link #factory()} has created read-only, and returns {@code root}.
     * {@code root} must be a tree built by this batch's factory alone (as a parse builds it):
     * containers from elsewhere are not frozen by this.
     */
    public JsonNode freeze(JsonNode root) {
      frozen = true;
      return root;
    }
  }

  private static final class Factory extends JsonNodeFactory {
    private static final long serialVersionUID = 1L;
    private final transient @Nullable Batch batch;

    Factory(@Nullable Batch batch) {
      super(false);
      this.batch = batch;
    }

    /** The batch a new container joins: none once the batch is frozen. */
    private @Nullable Batch open() {
      Batch b = batch;
      return b == null || b.frozen ? null : b;
    }

    @Override
    public ObjectNode objectNode() {
      return new FrozenObject(this, new FreezableMap(open()));
    }

    @Override
    public ArrayNode arrayNode() {
      return new FrozenArray(this, new FreezableList(8, open()));
    }

    @Override
    public ArrayNode arrayNode(int capacity) {
      return new FrozenArray(this, new FreezableList(capacity, open()));
    }
  }

  @SuppressWarnings("unchecked") // Jackson's own deepCopy() signatures, inherited as they are
  private static final class FrozenObject extends ObjectNode {
    private static final long serialVersionUID = 1L;
    private final FreezableMap map;

    FrozenObject(JsonNodeFactory factory, FreezableMap map) {
      super(factory, map);
      this.map = map;
    }

    void freezeChildren() {
      map.freezeChildren();
    }
  }

  @SuppressWarnings("unchecked")
  private static final class FrozenArray extends ArrayNode {
    private static final long serialVersionUID = 1L;
    private final FreezableList list;

    FrozenArray(JsonNodeFactory factory, FreezableList list) {
      super(factory, list);
      this.list = list;
    }

    void freezeChildren() {
      list.freezeChildren();
    }
  }

  private static UnsupportedOperationException readOnly() {
    return new UnsupportedOperationException(
        "configuration trees are read-only; use deepCopy() for a mutable copy");
  }

  @SuppressWarnings("serial")
  private static final class FreezableMap extends LinkedHashMap<String, JsonNode> {
    private boolean frozen;
    private final transient @Nullable Batch batch;

    // A view of the unguarded entries, for Collections.unmodifiableMap to wrap read-only; made on
    // first use, as most maps are never iterated through entrySet().
    private transient @Nullable Map<String, JsonNode> unguarded;

    FreezableMap(@Nullable Batch batch) {
      this.batch = batch;
    }

    void freezeChildren() {
      frozen = true;
    }

    private boolean isFrozen() {
      Batch b = batch;
      return frozen || (b != null && b.frozen);
    }

    private void check() {
      if (isFrozen()) {
        throw readOnly();
      }
    }

    private Map<String, JsonNode> unguarded() {
      Map<String, JsonNode> view = unguarded;
      if (view == null) {
        view =
            new AbstractMap<>() {
              @Override
              public Set<Map.Entry<String, JsonNode>> entrySet() {
                return FreezableMap.super.entrySet();
              }
            };
        unguarded = view;
      }
      return view;
    }

    @Override
    public @Nullable JsonNode put(String key, JsonNode value) {
      check();
      JsonNode previous = super.put(key, value);
      Batch b = batch;
      if (previous != null && b != null) {
        b.duplicateKeys = true;
      }
      return previous;
    }

    @Override
    public void putAll(Map<? extends String, ? extends JsonNode> m) {
      check();
      super.putAll(m);
    }

    @Override
    public @Nullable JsonNode putIfAbsent(String key, JsonNode value) {
      check();
      return super.putIfAbsent(key, value);
    }

    @Override
    public @Nullable JsonNode remove(Object key) {
      check();
      return super.remove(key);
    }

    @Override
    public boolean remove(Object key, Object value) {
      check();
      return super.remove(key, value);
    }

    @Override
    public void clear() {
      check();
      super.clear();
    }

    @Override
    public @Nullable JsonNode replace(String key, JsonNode value) {
      check();
      return super.replace(key, value);
    }

    @Override
    public boolean replace(String key, JsonNode oldValue, JsonNode newValue) {
      check();
      return super.replace(key, oldValue, newValue);
    }

    @Override
    public void replaceAll(BiFunction<? super String, ? super JsonNode, ? extends JsonNode> f) {
      check();
      super.replaceAll(f);
    }

    @Override
    public @Nullable JsonNode compute(
        String key,
        BiFunction<? super String, ? super @Nullable JsonNode, ? extends @Nullable JsonNode> f) {
      check();
      return super.compute(key, f);
    }

    @Override
    public @Nullable JsonNode computeIfAbsent(
        String key, Function<? super String, ? extends @Nullable JsonNode> f) {
      check();
      return super.computeIfAbsent(key, f);
    }

    @Override
    public @Nullable JsonNode computeIfPresent(
        String key, BiFunction<? super String, ? super JsonNode, ? extends @Nullable JsonNode> f) {
      check();
      return super.computeIfPresent(key, f);
    }

    @Override
    public @Nullable JsonNode merge(
        String key,
        JsonNode value,
        BiFunction<? super JsonNode, ? super JsonNode, ? extends @Nullable JsonNode> f) {
      check();
      return super.merge(key, value, f);
    }

    @Override
    public Set<Map.Entry<String, JsonNode>> entrySet() {
      return isFrozen() ? Collections.unmodifiableMap(unguarded()).entrySet() : super.entrySet();
    }

    @Override
    public Set<String> keySet() {
      return isFrozen() ? Collections.unmodifiableSet(super.keySet()) : super.keySet();
    }

    @Override
    public Collection<JsonNode> values() {
      return isFrozen() ? Collections.unmodifiableCollection(super.values()) : super.values();
    }
  }

  @SuppressWarnings("serial")
  private static final class FreezableList extends ArrayList<JsonNode> {
    private boolean frozen;
    private final transient @Nullable Batch batch;

    FreezableList(int capacity, @Nullable Batch batch) {
      super(capacity);
      this.batch = batch;
    }

    void freezeChildren() {
      frozen = true;
    }

    private boolean isFrozen() {
      Batch b = batch;
      return frozen || (b != null && b.frozen);
    }

    private void check() {
      if (isFrozen()) {
        throw readOnly();
      }
    }

    @Override
    public boolean add(JsonNode e) {
      check();
      return super.add(e);
    }

    @Override
    public void add(int index, JsonNode e) {
      check();
      super.add(index, e);
    }

    @Override
    public boolean addAll(Collection<? extends JsonNode> c) {
      check();
      return super.addAll(c);
    }

    @Override
    public boolean addAll(int index, Collection<? extends JsonNode> c) {
      check();
      return super.addAll(index, c);
    }

    @Override
    public JsonNode set(int index, JsonNode e) {
      check();
      return super.set(index, e);
    }

    @Override
    public JsonNode remove(int index) {
      check();
      return super.remove(index);
    }

    @Override
    public boolean remove(Object o) {
      check();
      return super.remove(o);
    }

    @Override
    public boolean removeAll(Collection<?> c) {
      check();
      return super.removeAll(c);
    }

    @Override
    public boolean retainAll(Collection<?> c) {
      check();
      return super.retainAll(c);
    }

    @Override
    public boolean removeIf(Predicate<? super JsonNode> filter) {
      check();
      return super.removeIf(filter);
    }

    @Override
    public void replaceAll(UnaryOperator<JsonNode> operator) {
      check();
      super.replaceAll(operator);
    }

    @Override
    public void sort(@Nullable Comparator<? super JsonNode> c) {
      check();
      super.sort(c);
    }

    @Override
    public void clear() {
      check();
      super.clear();
    }

    @Override
    protected void removeRange(int fromIndex, int toIndex) {
      check();
      super.removeRange(fromIndex, toIndex);
    }

    @Override
    public Iterator<JsonNode> iterator() {
      // Not Collections.unmodifiableList(this).iterator(): that calls back into this method, for
      // ever. ArrayList's own iterators remove through remove(int), which is guarded anyway.
      Iterator<JsonNode> it = super.iterator();
      if (!isFrozen()) {
        return it;
      }
      return new Iterator<>() {
        @Override
        public boolean hasNext() {
          return it.hasNext();
        }

        @Override
        public JsonNode next() {
          return it.next();
        }
      };
    }
  }
}
