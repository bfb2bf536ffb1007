package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.delta.ChangeSet;
import dev.configsync.internal.delta.ChangeSet.CollectionDelta;
import dev.configsync.internal.delta.DeltaRejectedException;
import dev.configsync.internal.delta.EntityRules;
import dev.configsync.internal.delta.IndexedConfig;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Entity edits of the admin API ({@code PUT} and {@code DELETE /config/{collection}/{key}}, {@code
 * POST /config/changes}) turned into the whole configuration they make from the one in force, by
 * the entity rules of {@code docs/protocol.md} ({@link EntityRules}): a collection is keyed by
 * {@code id}, else by its natural key; an edit names an entity by the key its collection is keyed
 * by. The new configuration shares every untouched member and entity with the old one, and its
 * hashes are those of the old one with only the changed parts hashed again.
 *
 * <p>Stateless; every method is a function of its arguments.
 */
final class EntityEdits {
  private EntityEdits() {}

  /**
   * One edit: the entity {@code key} of {@code collection} upserted ({@code entity}) or deleted.
   */
  record Edit(String collection, String key, @Nullable JsonNode entity) {
    boolean isDelete() {
      return entity == null;
    }
  }

  /** An edit that cannot be made: the HTTP status and error code it is answered with. */
  static final class EditException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient HttpResponseStatus status;
    final String code;

    EditException(HttpResponseStatus status, String code, String message) {
      super(message, null, false, false);
      this.status = status;
      this.code = code;
    }
  }

  /**
   * The outcome of edits: the new configuration, indexed (its hashes were computed from the base's
   * by re-hashing only the changed parts), the change set that makes it from the base, and the
   * apply's account of what changed, entity by entity (with the base's versions of the updated
   * ones), so that what depends on entities (the plugins used) is updated from the changed ones.
   */
  record Edited(IndexedConfig config, ChangeSet changes, IndexedConfig.Applied applied) {}

  /**
   * The configuration that {@code edits}, applied in one step, make from {@code indexed}.
   *
   * @throws EditException when an edit is invalid (400), names an entity that does not exist (404)
   *     or a collection that is not keyed (409); nothing is changed
   */
  static Edited apply(IndexedConfig indexed, List<Edit> edits) {
    JsonNode base = indexed.table();
    if (edits.isEmpty()) {
      throw invalid("the request changes nothing: give at least one upsert or delete");
    }
    Map<String, List<Edit>> byCollection = new LinkedHashMap<>();
    for (Edit edit : edits) {
      byCollection.computeIfAbsent(edit.collection(), c -> new ArrayList<>()).add(edit);
    }
    Map<String, CollectionDelta> collections = new LinkedHashMap<>();
    Map<String, JsonNode> set = new LinkedHashMap<>();
    for (Map.Entry<String, List<Edit>> e : byCollection.entrySet()) {
      String name = e.getKey();
      JsonNode array = base.get(name);
      if (array == null || array.isNull() || (array.isArray() && array.isEmpty())) {
        set.put(name, newCollection(name, e.getValue()));
      } else {
        collections.put(name, delta(name, array, indexed.keyField(name), e.getValue()));
      }
    }
    ChangeSet changes = new ChangeSet(collections, set, Set.of());
    IndexedConfig.Applied applied;
    try {
      applied = indexed.apply(changes);
    } catch (DeltaRejectedException e) {
      // The apply refuses a delete of an entity the base lacks; that is a 404, the rest a 400.
      throwIfADeleteIsMissing(base, collections);
      throw invalid(e.getMessage());
    }
    return new Edited(applied.config(), changes, applied);
  }

  /** 404 for the first delete that names an entity the base lacks (a refused apply's cause). */
  private static void throwIfADeleteIsMissing(
      JsonNode base, Map<String, CollectionDelta> collections) {
    for (Map.Entry<String, CollectionDelta> e : collections.entrySet()) {
      CollectionDelta delta = e.getValue();
      if (delta.deletes().isEmpty()) {
        continue;
      }
      Set<String> present = new java.util.HashSet<>();
      for (JsonNode entity : base.path(e.getKey())) {
        present.add(EntityRules.keyOf(entity, delta.keyField()));
      }
      for (String key : delta.deletes()) {
        if (!present.contains(key)) {
          throw notFound(e.getKey(), delta.keyField(), key);
        }
      }
    }
  }

  /**
   * The edits of a batch, {@code {"upsert": {collection: [entity, ...]}, "delete": {collection:
   * [key, ...]}}} (both members optional), against {@code base}: an upserted entity carries its key
   * in the field its collection is keyed by in {@code base} (for a collection {@code base} lacks:
   * {@code id}, else the natural key).
   *
   * @throws EditException (400) when the batch is not of that form
   */
  static List<Edit> batch(IndexedConfig base, @Nullable JsonNode body) {
    if (body == null || !body.isObject()) {
      throw invalid("a batch must be a JSON object with \"upsert\" and/or \"delete\"");
    }
    List<Edit> edits = new ArrayList<>();
    for (Map.Entry<String, JsonNode> member : body.properties()) {
      String kind = member.getKey();
      if (!kind.equals("upsert") && !kind.equals("delete")) {
        throw invalid("a batch has \"upsert\" and \"delete\", not " + LogSafe.text(kind, 40));
      }
      if (!member.getValue().isObject()) {
        throw invalid("\"" + kind + "\" must map collection names to arrays");
      }
      for (Map.Entry<String, JsonNode> c : member.getValue().properties()) {
        String name = c.getKey();
        if (!c.getValue().isArray()) {
          throw invalid("\"" + kind + "\"." + LogSafe.text(name, 60) + " must be an array");
        }
        for (JsonNode item : c.getValue()) {
          if (kind.equals("delete")) {
            if (!item.isTextual()) {
              throw invalid("\"delete\"." + LogSafe.text(name, 60) + " lists keys, as strings");
            }
            edits.add(new Edit(name, item.textValue(), null));
          } else {
            edits.add(new Edit(name, keyOfUpsert(base, name, item), item));
          }
        }
      }
    }
    return edits;
  }

  /** The key an upserted entity of a batch carries (see {@link #batch}). */
  private static String keyOfUpsert(IndexedConfig base, String name, JsonNode entity) {
    if (!entity.isObject()) {
      throw invalid("an entity of " + LogSafe.text(name, 60) + " must be a JSON object");
    }
    JsonNode array = base.table().get(name);
    String field =
        array != null && array.isArray() && !array.isEmpty() ? base.keyField(name) : null;
    List<String> candidates = field != null ? List.of(field) : EntityRules.keyFields(name);
    for (String candidate : candidates) {
      String key = EntityRules.keyOf(entity, candidate);
      if (key != null) {
        return key;
      }
    }
    throw invalid(
        "an upserted entity of "
            + LogSafe.text(name, 60)
            + " has no "
            + String.join(" or ", candidates)
            + " (a string): in a batch, each entity carries its key");
  }

  /**
   * The changes to an existing, non-empty member {@code name}, keyed by {@code keyField} (null: not
   * keyed). A delete of an entity the base lacks is refused by the apply, which {@link #apply}
   * answers with 404.
   */
  private static CollectionDelta delta(
      String name, JsonNode array, @Nullable String keyField, List<Edit> edits) {
    if (!array.isArray()) {
      throw new EditException(
          HttpResponseStatus.CONFLICT,
          "not_a_collection",
          name
              + " is not a collection (an array of entities) but a "
              + array.getNodeType().name().toLowerCase(java.util.Locale.ROOT)
              + "; change it with PUT /config");
    }
    if (keyField == null) {
      throw new EditException(
          HttpResponseStatus.CONFLICT,
          "not_keyed",
          "the entities of "
              + name
              + " are not keyed: not every one has a distinct "
              + String.join(" or ", EntityRules.keyFields(name))
              + ", so the collection is replaced as a whole; change it with PUT /config");
    }
    Map<String, JsonNode> upserts = new LinkedHashMap<>();
    Set<String> deletes = new LinkedHashSet<>();
    for (Edit edit : edits) {
      if (upserts.containsKey(edit.key()) || deletes.contains(edit.key())) {
        throw invalid("the request changes " + name + " " + edit.key() + " twice");
      }
      if (edit.isDelete()) {
        deletes.add(edit.key());
      } else {
        upserts.put(edit.key(), keyed(name, keyField, edit));
      }
    }
    return new CollectionDelta(keyField, upserts, deletes, List.of());
  }

  /** A collection that the base lacks (or has empty), made of the upserts alone. */
  private static JsonNode newCollection(String name, List<Edit> edits) {
    String keyField = keyFieldForNew(name, edits);
    ArrayNode array = JsonNodeFactory.instance.arrayNode();
    Set<String> seen = new LinkedHashSet<>();
    for (Edit edit : edits) {
      if (edit.isDelete()) {
        throw notFound(name, keyField, edit.key());
      }
      if (!seen.add(edit.key())) {
        throw invalid("the request changes " + name + " " + edit.key() + " twice");
      }
      array.add(keyed(name, keyField, edit));
    }
    return array;
  }

  /**
   * The key field of a new collection: {@code id} when every upserted entity has one, else the
   * collection's natural key when it has one, else {@code id}.
   */
  private static String keyFieldForNew(String name, List<Edit> edits) {
    List<String> fields = EntityRules.keyFields(name);
    for (String field : fields) {
      boolean all = true;
      for (Edit edit : edits) {
        all &= edit.entity() != null && EntityRules.keyOf(edit.entity(), field) != null;
      }
      if (all) {
        return field;
      }
    }
    return fields.get(fields.size() - 1);
  }

  /** The edit's entity with its key in {@code keyField}: added when absent, checked when given. */
  private static JsonNode keyed(String name, String keyField, Edit edit) {
    JsonNode entity = edit.entity();
    if (entity == null || !entity.isObject()) {
      throw invalid("an entity of " + name + " must be a JSON object");
    }
    JsonNode given = entity.get(keyField);
    if (given == null) {
      ObjectNode copy = ((ObjectNode) entity).deepCopy();
      copy.put(keyField, edit.key());
      return copy;
    }
    if (!given.isTextual() || !given.textValue().equals(edit.key())) {
      throw invalid(
          "the entity's "
              + keyField
              + " is "
              + LogSafe.text(given.toString(), 80)
              + " but the request names "
              + name
              + " "
              + LogSafe.text(edit.key(), 80)
              + "; "
              + name
              + " is keyed by "
              + keyField);
    }
    return entity;
  }

  private static EditException notFound(String name, String keyField, String key) {
    return new EditException(
        HttpResponseStatus.NOT_FOUND,
        "no_such_entity",
        "the configuration in force has no "
            + LogSafe.text(name, 60)
            + " with "
            + keyField
            + " "
            + LogSafe.text(key, 80));
  }

  private static EditException invalid(String message) {
    return new EditException(HttpResponseStatus.BAD_REQUEST, "invalid_change", message);
  }
}
