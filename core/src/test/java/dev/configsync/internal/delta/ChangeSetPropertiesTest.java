package dev.configsync.internal.delta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigChanges;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Diff and apply against full configurations: for random configurations and random edits, the
 * change set {@code diff(base, target)} applied to {@code base} gives {@code target} exactly, with
 * the configuration hash Kong computes for {@code target} (computed incrementally, from cached
 * fragments), sharing every unchanged entity with the base; it survives its JSON form; and the
 * changes it reports are those a diff of the two trees reports.
 */
class ChangeSetPropertiesTest {

  @Property(tries = 200)
  void applyingTheDiffGivesTheTargetAndItsHash(@ForAll long seed) throws Exception {
    Edit edit = Edit.random(seed, 0, 12);
    IndexedConfig base = edit.base();
    JsonNode target = edit.target();
    ConfigHashes targetHashes = ConfigHash.configHashes(target);

    ChangeSet changes = ConfigDiff.diff(base.table(), target);
    IndexedConfig.Applied applied = base.apply(changes, targetHashes);

    assertThat(applied.config().table()).isEqualTo(target);
    assertThat(applied.config().hashes()).isEqualTo(targetHashes);
    assertThat(IndexedConfig.of(target).hashes()).isEqualTo(targetHashes);
    assertThat(base.hashes()).isEqualTo(ConfigHash.configHashes(edit.baseTree()));
    assertSharesUnchanged(base.table(), applied.config().table(), changes);
    assertThat(applied.changes()).isEqualTo(ConfigDiff.changes(base.table(), target));
  }

  @Property(tries = 200)
  void aChangeSetSurvivesItsJsonForm(@ForAll long seed) throws Exception {
    RandomConfigs random = new RandomConfigs(seed, 0);
    ObjectNode baseTree = random.config(10);
    JsonNode target = frozen(random.edit(baseTree));
    ChangeSet changes = ConfigDiff.diff(frozen(baseTree), target);

    byte[] wire = Json.WRITER.writeValueAsBytes(changes.toJson());
    ChangeSet read = ChangeSet.fromJson(Json.readFrozen(wire));

    assertThat(read).isEqualTo(changes);
    assertThat(IndexedConfig.of(baseTree).apply(read).config().table()).isEqualTo(target);
  }

  /**
   * Large strings push the buffers past Kong's 1,000,000-byte rule, inside and between entities.
   */
  @Property(tries = 8)
  void theIncrementalHashKeepsKongsMillionByteRule(@ForAll long seed) throws Exception {
    Edit edit = Edit.random(seed, 300_000, 14);
    IndexedConfig base = edit.base();
    JsonNode target = edit.target();

    assertThat(base.hashes()).isEqualTo(ConfigHash.configHashes(edit.baseTree()));
    IndexedConfig.Applied applied =
        base.apply(ConfigDiff.diff(base.table(), target), ConfigHash.configHashes(target));
    assertThat(applied.config().table()).isEqualTo(target);
  }

  @Property(tries = 100)
  void chainsOfChangesKeepTheHash(@ForAll long seed) throws Exception {
    RandomConfigs random = new RandomConfigs(seed, 0);
    ObjectNode tree = random.config(10);
    IndexedConfig current = IndexedConfig.of(frozen(tree));
    for (int step = 0; step < 5; step++) {
      tree = random.edit(tree);
      JsonNode target = frozen(tree);
      current = current.apply(ConfigDiff.diff(current.table(), target)).config();
      assertThat(current.hashes()).isEqualTo(ConfigHash.configHashes(target));
      assertThat(current.table()).isEqualTo(target);
    }
  }

  @Property(tries = 100)
  void aWrongAnnouncedHashIsRefusedAndTheBaseStays(@ForAll long seed) throws Exception {
    RandomConfigs random = new RandomConfigs(seed, 0);
    ObjectNode baseTree = random.config(8);
    ObjectNode targetTree = random.edit(baseTree);
    IndexedConfig base = IndexedConfig.of(frozen(baseTree));
    String before = Json.WRITER.writeValueAsString(base.table());
    ChangeSet changes = ConfigDiff.diff(base.table(), frozen(targetTree));
    ConfigHashes wrong = ConfigHash.configHashes(frozen(random.edit(targetTree)));
    if (wrong.equals(ConfigHash.configHashes(targetTree))) {
      return; // the second edit changed nothing
    }

    assertThatThrownBy(() -> base.apply(changes, wrong))
        .isInstanceOfSatisfying(
            DeltaRejectedException.class,
            e -> assertThat(e.reason()).isEqualTo(DeltaRejectedException.Reason.HASH_MISMATCH));
    assertThat(Json.WRITER.writeValueAsString(base.table())).isEqualTo(before);
    assertThat(base.hashes()).isEqualTo(ConfigHash.configHashes(baseTree));
  }

  @Property(tries = 100)
  void theFirstConfigurationReportsEveryEntityAsAdded(@ForAll long seed) throws Exception {
    JsonNode config = frozen(new RandomConfigs(seed, 0).config(6));
    ConfigChanges changes = ConfigDiff.changes(null, config);

    assertThat(changes.initial()).isTrue();
    for (Map.Entry<String, JsonNode> e : config.properties()) {
      ConfigChanges.CollectionChanges c = changes.collections().get(e.getKey());
      if (c != null) {
        assertThat(c.added()).hasSize(e.getValue().size());
        assertThat(c.updated()).isEmpty();
        assertThat(c.removed()).isEmpty();
      } else if (!(e.getValue().isArray() && e.getValue().isEmpty())) {
        assertThat(changes.replaced()).contains(e.getKey());
      }
    }
  }

  /**
   * Every member the change set leaves alone is the base's node, and so is every entity of a
   * changed collection that it does not upsert.
   */
  private static void assertSharesUnchanged(JsonNode base, JsonNode result, ChangeSet changes) {
    for (Map.Entry<String, JsonNode> e : result.properties()) {
      String name = e.getKey();
      ChangeSet.CollectionDelta delta = changes.collections().get(name);
      if (delta == null) {
        if (!changes.set().containsKey(name)) {
          assertThat(e.getValue()).isSameAs(base.get(name));
        }
        continue;
      }
      Set<JsonNode> baseEntities =
          java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      base.get(name).forEach(baseEntities::add);
      Set<String> upserted = new HashSet<>(delta.upserts().keySet());
      for (JsonNode entity : e.getValue()) {
        String key = ConfigDiff.keyOf(entity, delta.keyField());
        if (!upserted.contains(key)) {
          assertThat(baseEntities).as("entity %s is shared", key).contains(entity);
        }
      }
    }
  }

  /** A random configuration, indexed, and a random edit of it. */
  private record Edit(ObjectNode baseTree, IndexedConfig base, JsonNode target) {
    static Edit random(long seed, int bigString, int maxEntities) throws Exception {
      RandomConfigs random = new RandomConfigs(seed, bigString);
      ObjectNode baseTree = random.config(maxEntities);
      JsonNode target = frozen(random.edit(baseTree));
      return new Edit(baseTree, IndexedConfig.of(frozen(baseTree)), target);
    }
  }

  static JsonNode frozen(JsonNode tree) throws Exception {
    return Json.readFrozen(Json.WRITER.writeValueAsString(tree).getBytes(StandardCharsets.UTF_8));
  }
}
