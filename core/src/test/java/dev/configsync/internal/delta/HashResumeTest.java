package dev.configsync.internal.delta;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.ConfigHash;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * A granular member is hashed again from the last mark before its first change, not from its start.
 * For long collections (many marks, and Kong's 1,000,000-byte rule firing between and inside
 * entities) and chains of edits at random places (first, last, middle; updates, inserts, deletes),
 * every version's hashes are those {@link ConfigHash#configHashes} computes from the whole table,
 * and a change past the first mark is hashed from a later element than the first.
 */
class HashResumeTest {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  @Property(tries = 9)
  void chainsOfEditsAnywhereKeepKongsHash(
      @ForAll long seed, @ForAll @IntRange(min = 0, max = 2) int sizes) throws Exception {
    SplittableRandom random = new SplittableRandom(seed);
    // Hundreds of routes of about 0.3 KB (0.1 to 0.4 MB in all) or 1.5 KB (1 to 1.6 MB: the rule
    // fires between entities), or a dozen of hundreds of KB (it fires inside them); always more
    // than one mark's worth.
    int count = sizes == 2 ? 8 + random.nextInt(6) : sizes == 1 ? 700 : 300 + random.nextInt(900);
    int padding = sizes == 0 ? 300 : sizes == 1 ? 1500 : 150_000;
    ObjectNode tree = NODES.objectNode();
    tree.put("_format_version", "3.0");
    ArrayNode routes = tree.putArray("routes");
    for (int i = 0; i < count; i++) {
      routes.add(route("r" + i, random, padding));
    }
    IndexedConfig current = IndexedConfig.of(ChangeSetPropertiesTest.frozen(tree));
    assertThat(current.hashes()).isEqualTo(ConfigHash.configHashes(tree));
    int next = count;
    for (int step = 0; step < 8; step++) {
      ArrayNode list = (ArrayNode) tree.get("routes");
      int at =
          switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> list.size() - 1;
            default -> random.nextInt(list.size());
          };
      switch (random.nextInt(3)) {
        case 0 -> list.set(at, route(list.get(at).get("id").textValue(), random, padding));
        case 1 -> list.insert(at, route("r" + next++, random, padding));
        default -> list.remove(at);
      }
      JsonNode target = ChangeSetPropertiesTest.frozen(tree);
      IndexedConfig.Applied applied =
          current.apply(ConfigDiff.diff(current.table(), target), ConfigHash.configHashes(target));
      current = applied.config();
      assertThat(current.table()).isEqualTo(target);
    }
  }

  @Property(tries = 5)
  void aChangeNearTheEndIsHashedFromNearTheEnd(@ForAll long seed) throws Exception {
    SplittableRandom random = new SplittableRandom(seed);
    ObjectNode tree = NODES.objectNode();
    ArrayNode routes = tree.putArray("routes");
    for (int i = 0; i < 1000; i++) {
      routes.add(route("r" + i, random, 500));
    }
    IndexedConfig base = IndexedConfig.of(ChangeSetPropertiesTest.frozen(tree));
    JsonNode changed = route("r990", random, 500);

    IndexedConfig.Applied applied =
        base.apply(
            new ChangeSet(
                Map.of("routes", ChangeSet.CollectionDelta.upserting("id", List.of(changed))),
                Map.of(),
                Set.of()));

    routes.set(990, changed);
    assertThat(applied.config().hashes()).isEqualTo(ConfigHash.configHashes(tree));
    // At least ~600 KB of routes precede it: many marks; the last is within 64 KB of it.
    assertThat(applied.config().hashedFrom("routes")).isBetween(800, 990);
    assertThat(base.hashedFrom("routes")).isZero();
  }

  private static ObjectNode route(String id, SplittableRandom random, int padding) {
    ObjectNode route = NODES.objectNode();
    route.put("id", id);
    route.put("name", "route-" + id + "-" + random.nextInt(1000));
    route.putArray("paths").add("/" + id);
    ArrayNode tags = route.putArray("tags");
    for (int t = random.nextInt(8); t > 0; t--) {
      tags.add("t" + random.nextInt(100));
    }
    route.put("description", "x".repeat(padding / 2 + random.nextInt(padding)));
    route.put("weight", random.nextDouble() * 1000);
    return route;
  }
}
