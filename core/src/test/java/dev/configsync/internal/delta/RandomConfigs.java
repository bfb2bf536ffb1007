package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Random configuration tables and random edits of them, from a seed: collections keyed by id, by a
 * natural key only, unkeyed ones, scalars; edits that upsert, delete, insert in the middle, move,
 * reorder, add and remove members, and turn a keyed collection into an unkeyed one.
 */
public final class RandomConfigs {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private final Random random;
  private final int bigString;
  private int serial;

  /** {@code bigString}: the length of the occasional large string (0: none). */
  public RandomConfigs(long seed, int bigString) {
    this.random = new Random(seed);
    this.bigString = bigString;
  }

  public ObjectNode config(int maxEntities) {
    ObjectNode t = NODES.objectNode();
    t.put("_format_version", "3.0");
    for (String name : new String[] {"routes", "services", "plugins", "consumers", "targets"}) {
      if (random.nextInt(6) > 0) {
        t.set(name, collection(name, random.nextInt(maxEntities + 1), true));
      }
    }
    if (random.nextBoolean()) {
      t.set("upstreams", collection("upstreams", random.nextInt(maxEntities + 1), false));
    }
    if (random.nextBoolean()) {
      t.set("tags", value(2)); // anything
    }
    if (random.nextInt(4) == 0) {
      ArrayNode unkeyed = NODES.arrayNode();
      for (int i = random.nextInt(8); i > 0; i--) {
        unkeyed.add(value(2));
      }
      t.set("certificates", unkeyed);
    }
    return t;
  }

  private ArrayNode collection(String name, int size, boolean ids) {
    ArrayNode a = NODES.arrayNode();
    for (int i = 0; i < size; i++) {
      a.add(entity(name, ids));
    }
    return a;
  }

  ObjectNode entity(String collection, boolean id) {
    ObjectNode e = NODES.objectNode();
    int n = ++serial;
    if (id) {
      e.put("id", "00000000-0000-4000-8000-" + String.format("%012d", n));
    }
    String natural = EntityRules.NATURAL_KEYS.getOrDefault(collection, "name");
    e.put(natural, collection + "-" + n);
    for (int i = random.nextInt(5); i > 0; i--) {
      e.set(fieldName(), value(2));
    }
    return e;
  }

  private String fieldName() {
    String[] names = {"host", "port", "paths", "enabled", "config", "tags", "ü-key", "weight"};
    return names[random.nextInt(names.length)];
  }

  JsonNode value(int depth) {
    int kind = random.nextInt(depth <= 0 ? 5 : 7);
    return switch (kind) {
      case 0 -> NODES.nullNode();
      case 1 -> NODES.booleanNode(random.nextBoolean());
      case 2 -> NODES.numberNode(random.nextInt(100_000) - 50_000);
      case 3 -> NODES.numberNode(random.nextDouble() * Math.pow(10, random.nextInt(30) - 10));
      case 4 -> NODES.textNode(text());
      case 5 -> {
        ArrayNode a = NODES.arrayNode();
        for (int i = random.nextInt(8); i > 0; i--) {
          a.add(value(depth - 1));
        }
        yield a;
      }
      default -> {
        ObjectNode o = NODES.objectNode();
        for (int i = random.nextInt(4); i > 0; i--) {
          o.set(fieldName(), value(depth - 1));
        }
        yield o;
      }
    };
  }

  private String text() {
    if (bigString > 0 && random.nextInt(20) == 0) {
      return "x".repeat(bigString / 2 + random.nextInt(bigString));
    }
    String[] texts = {"", "a", "/path", "é€😀", "x;y:z", "{}", "/null/"};
    return texts[random.nextInt(texts.length)] + random.nextInt(1000);
  }

  /** A deep copy of {@code base} with random edits. */
  public ObjectNode edit(ObjectNode base) {
    ObjectNode t = base.deepCopy();
    List<String> names = new ArrayList<>();
    t.fieldNames().forEachRemaining(names::add);
    for (String name : names) {
      JsonNode v = t.get(name);
      if (random.nextInt(8) == 0) {
        t.remove(name);
      } else if (v.isArray() && random.nextInt(3) > 0) {
        editCollection(name, (ArrayNode) v);
      } else if (random.nextInt(5) == 0) {
        t.set(name, value(2));
      }
    }
    if (random.nextInt(5) == 0) {
      t.set("member" + random.nextInt(3), value(2));
    }
    if (random.nextInt(8) == 0) {
      t.set("snis", collection("snis", random.nextInt(4), random.nextBoolean()));
    }
    return t;
  }

  private void editCollection(String name, ArrayNode a) {
    List<JsonNode> items = new ArrayList<>();
    a.forEach(items::add);
    boolean ids = items.isEmpty() || items.get(0).has("id");
    int edits = 1 + random.nextInt(4);
    for (int i = 0; i < edits; i++) {
      switch (random.nextInt(8)) {
        case 0 -> { // delete
          if (!items.isEmpty()) {
            items.remove(random.nextInt(items.size()));
          }
        }
        case 1 -> items.add(entity(name, ids)); // append
        case 2 -> items.add(random.nextInt(items.size() + 1), entity(name, ids)); // insert
        case 3 -> { // move
          if (!items.isEmpty()) {
            JsonNode moved = items.remove(random.nextInt(items.size()));
            items.add(random.nextInt(items.size() + 1), moved);
          }
        }
        case 4 -> Collections.shuffle(items, random);
        case 5 -> { // duplicate key: the collection becomes unkeyed
          if (random.nextInt(4) == 0 && !items.isEmpty()) {
            items.add(items.get(random.nextInt(items.size())).deepCopy());
          }
        }
        default -> { // update
          if (!items.isEmpty() && items.get(0) instanceof ObjectNode) {
            JsonNode e = items.get(random.nextInt(items.size()));
            if (e instanceof ObjectNode o) {
              o.set(fieldName(), value(2));
            }
          }
        }
      }
    }
    a.removeAll();
    items.forEach(a::add);
  }
}
