package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.delta.IndexedConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The plugins of an entity edit's result, counted again from the changed entities only ({@link
 * Compatibility.PluginUse#ofEdit}), are exactly those a walk of the whole result finds: a plugin
 * that the last entity using it stops using goes, one that another entity still uses stays.
 */
class PluginUseTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> PLUGINS = List.of("rate-limiting", "cors", "jwt", "acl");

  @Property(tries = 200)
  void countingTheChangedEntitiesGivesWhatAWalkOfTheWholeResultGives(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 30) int steps) {
    Random random = new Random(seed);
    ObjectNode table = JSON.createObjectNode().put("_format_version", "3.0");
    for (String collection : List.of("services", "routes", "plugins")) {
      for (int i = 0; i < 1 + random.nextInt(6); i++) {
        table.withArray(collection).add(entity(random, collection, "k" + i));
      }
    }
    IndexedConfig indexed = IndexedConfig.of(table);
    Compatibility.PluginUse use = Compatibility.PluginUse.of(indexed.table(), null);
    for (int step = 0; step < steps; step++) {
      List<EntityEdits.Edit> edits = new ArrayList<>();
      for (int e = 0; e < 1 + random.nextInt(3); e++) {
        String collection = List.of("services", "routes", "plugins").get(random.nextInt(3));
        JsonNode array = indexed.table().path(collection);
        boolean delete = random.nextInt(4) == 0 && array.size() > 1;
        String key =
            delete || (random.nextBoolean() && !array.isEmpty())
                ? array.get(random.nextInt(array.size())).path("id").asText()
                : "n" + step + "-" + e;
        if (edits.stream()
            .anyMatch(x -> x.collection().equals(collection) && x.key().equals(key))) {
          continue; // one edit per entity in a batch
        }
        edits.add(
            new EntityEdits.Edit(collection, key, delete ? null : entity(random, collection, key)));
      }
      EntityEdits.Edited edited = EntityEdits.apply(indexed, edits);
      Compatibility.PluginUse next =
          Compatibility.PluginUse.ofEdit(indexed.table(), edited.applied(), use);
      Compatibility.PluginUse walked = Compatibility.PluginUse.of(edited.config().table(), null);

      assertThat(next.all()).as("step %d: %s", step, edits).isEqualTo(walked.all());
      assertThat(next.byMember()).isEqualTo(walked.byMember());
      assertThat(next.countsByMember()).isEqualTo(walked.countsByMember());
      indexed = edited.config();
      use = next;
    }
  }

  /** An entity keyed by {@code key}; it nests plugins (or is one, in {@code plugins}) at random. */
  private static ObjectNode entity(Random random, String collection, String key) {
    ObjectNode entity = JSON.createObjectNode().put("id", key);
    if (collection.equals("plugins")) {
      entity.put("name", PLUGINS.get(random.nextInt(PLUGINS.size())));
    } else {
      entity.put("name", collection + "-" + key);
    }
    if (random.nextInt(3) == 0) {
      var nested = entity.putArray("plugins");
      for (int i = 0; i < 1 + random.nextInt(2); i++) {
        nested.addObject().put("name", PLUGINS.get(random.nextInt(PLUGINS.size())));
      }
    }
    return entity;
  }
}
