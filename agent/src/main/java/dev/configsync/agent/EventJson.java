package dev.configsync.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Turns an event record into one line of JSON, generically, so that a new {@link
 * dev.configsync.SyncEvent} record needs no change here.
 *
 * <ul>
 *   <li>{@code event} is the snake_case of the record's simple name ({@code SnapshotApplied} ->
 *       {@code snapshot_applied}), and comes first.
 *   <li>Every record component becomes a field named in snake_case ({@code previousHash} -> {@code
 *       previous_hash}), in declaration order, except {@code time}, which comes last.
 *   <li>Null values are left out. Enums are their lower-case name. Numbers and booleans are JSON
 *       numbers and booleans. A {@link Duration} is ISO-8601 text ({@code "PT5.3S"}) plus a
 *       companion {@code <name>_ms} number of whole milliseconds. Collections and maps become
 *       arrays and objects. Anything else ({@code Instant}, {@code URI}, {@code UUID}, {@code
 *       Path}) is its {@code toString()}.
 * </ul>
 */
final class EventJson {
  private static final ObjectMapper WRITER = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private EventJson() {}

  /** The event's JSON line, without the line break. */
  static String line(Object event) {
    return text(toJson(event));
  }

  /** An event already turned into JSON ({@link #toJson}), as one line, without the line break. */
  static String text(ObjectNode json) {
    try {
      return WRITER.writeValueAsString(json);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("an event could not be written as JSON: " + json, e);
    }
  }

  /**
   * The event as a JSON object. Events are records; anything else (which no event type is today)
   * becomes its name and a {@code detail} field with its {@code toString()}.
   */
  static ObjectNode toJson(Object event) {
    ObjectNode json = NODES.objectNode();
    json.put("event", eventName(event.getClass()));
    if (event instanceof Record r) {
      putComponents(json, r);
    } else {
      json.put("detail", event.toString());
    }
    return json;
  }

  private static void putComponents(ObjectNode json, Record event) {
    @Nullable Object time = null;
    boolean hasTime = false;
    for (RecordComponent component : event.getClass().getRecordComponents()) {
      Object value = read(event, component);
      if (component.getName().equals("time")) {
        time = value;
        hasTime = true;
      } else {
        put(json, snakeCase(component.getName()), value);
      }
    }
    if (hasTime) {
      put(json, "time", time);
    }
  }

  /** The event name of a record type: the snake_case of its simple name. */
  static String eventName(Class<?> type) {
    return snakeCase(type.getSimpleName());
  }

  /**
   * {@code camelCase} or {@code PascalCase} to {@code snake_case}; a run of capitals counts as one
   * word ({@code nodeURI} -> {@code node_uri}, {@code URIPath} -> {@code uri_path}).
   */
  static String snakeCase(String name) {
    StringBuilder out = new StringBuilder(name.length() + 8);
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (Character.isUpperCase(c)) {
        boolean afterLowerOrDigit =
            i > 0
                && (Character.isLowerCase(name.charAt(i - 1))
                    || Character.isDigit(name.charAt(i - 1)));
        boolean endsCapitalRun =
            i > 0
                && Character.isUpperCase(name.charAt(i - 1))
                && i + 1 < name.length()
                && Character.isLowerCase(name.charAt(i + 1));
        if (afterLowerOrDigit || endsCapitalRun) {
          out.append('_');
        }
        out.append(Character.toLowerCase(c));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static @Nullable Object read(Record event, RecordComponent component) {
    Method accessor = component.getAccessor();
    try {
      try {
        return accessor.invoke(event);
      } catch (IllegalAccessException e) {
        // A record that is not public, from another package: its accessors are still ours to read.
        accessor.setAccessible(true);
        return accessor.invoke(event);
      }
    } catch (IllegalAccessException | InvocationTargetException e) {
      throw new IllegalStateException(
          "cannot read " + component.getName() + " of " + event.getClass().getName(), e);
    }
  }

  private static void put(ObjectNode json, String name, @Nullable Object value) {
    if (value instanceof Optional<?> optional) {
      value = optional.orElse(null);
    }
    if (value == null) {
      return;
    }
    json.set(name, toNode(value));
    if (value instanceof Duration d) {
      json.put(name + "_ms", d.toMillis());
    }
  }

  private static JsonNode toNode(Object value) {
    if (value instanceof JsonNode node) {
      return node;
    }
    if (value instanceof CharSequence text) {
      return NODES.textNode(text.toString());
    }
    if (value instanceof Boolean b) {
      return NODES.booleanNode(b);
    }
    if (value instanceof Integer || value instanceof Long || value instanceof Short) {
      return NODES.numberNode(((Number) value).longValue());
    }
    if (value instanceof Byte b) {
      return NODES.numberNode(b.longValue());
    }
    if (value instanceof Double || value instanceof Float) {
      return NODES.numberNode(((Number) value).doubleValue());
    }
    if (value instanceof BigInteger big) {
      return NODES.numberNode(big);
    }
    if (value instanceof BigDecimal big) {
      return NODES.numberNode(big);
    }
    if (value instanceof Enum<?> e) {
      return NODES.textNode(e.name().toLowerCase(Locale.ROOT));
    }
    if (value instanceof Collection<?> items) {
      ArrayNode array = NODES.arrayNode();
      for (Object item : items) {
        array.add(item == null ? NODES.nullNode() : toNode(item));
      }
      return array;
    }
    if (value instanceof Map<?, ?> map) {
      ObjectNode object = NODES.objectNode();
      for (Map.Entry<?, ?> entry : map.entrySet()) {
        put(object, String.valueOf(entry.getKey()), entry.getValue());
      }
      return object;
    }
    if (value instanceof Record nested) {
      ObjectNode object = NODES.objectNode();
      putComponents(object, nested);
      return object;
    }
    // Duration, Instant, URI, UUID, Path, ...: their text form (Duration: ISO-8601, "PT5.3S").
    return NODES.textNode(value.toString());
  }
}
