package dev.configsync.internal.delta;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigChanges;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@code CollectionChanges.moved}: set when entities both configurations have changed their order
 * relative to each other, the same whether the changes come from a diff of two whole configurations
 * or from applying a change set; added and removed entities do not count.
 */
class MovedEntitiesTest {

  @Test
  void anEntityPlacedElsewhereIsAMoveEvenUnchanged() throws Exception {
    ConfigChanges.CollectionChanges c =
        both(
            "{\"routes\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]}",
            "{\"routes\":[{\"id\":\"b\"},{\"id\":\"a\"},{\"id\":\"c\"}]}");

    assertThat(c.moved()).isTrue();
    assertThat(c.added()).isEmpty();
    assertThat(c.updated()).isEmpty();
    assertThat(c.removed()).isEmpty();
    assertThat(c.isEmpty()).isFalse();
  }

  @Test
  void updatesAddsAndRemovesInPlaceAreNotMoves() throws Exception {
    ConfigChanges.CollectionChanges c =
        both(
            "{\"routes\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"},{\"id\":\"d\"}]}",
            "{\"routes\":[{\"id\":\"n\"},{\"id\":\"a\",\"x\":1},{\"id\":\"c\"},{\"id\":\"m\"},"
                + "{\"id\":\"d\"},{\"id\":\"z\"}]}");

    assertThat(c.moved()).isFalse();
    assertThat(c.added()).containsOnlyKeys("n", "m", "z");
    assertThat(c.updated()).containsOnlyKeys("a");
    assertThat(c.removed()).containsOnlyKeys("b");
  }

  @Test
  void anUpdatedEntityPlacedElsewhereIsAMove() throws Exception {
    ConfigChanges.CollectionChanges c =
        both(
            "{\"routes\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"c\"}]}",
            "{\"routes\":[{\"id\":\"a\"},{\"id\":\"c\"},{\"id\":\"b\",\"x\":1}]}");

    assertThat(c.moved()).isTrue();
    assertThat(c.updated()).containsOnlyKeys("b");
  }

  /** "Aa" and "BB" have the same hash code: a change found by hash still compares the keys. */
  @Test
  void keysWithTheSameHashCodeAreToldApart() throws Exception {
    assertThat("Aa".hashCode()).isEqualTo("BB".hashCode());
    ConfigChanges.CollectionChanges c =
        both(
            "{\"routes\":[{\"id\":\"x\"},{\"id\":\"Aa\"},{\"id\":\"y\"},{\"id\":\"BB\"}]}",
            "{\"routes\":[{\"id\":\"x\"},{\"id\":\"Aa\"},{\"id\":\"y\"},"
                + "{\"id\":\"BB\",\"v\":2}]}");

    assertThat(c.updated()).containsOnlyKeys("BB");
    assertThat(c.removed()).isEmpty();
    assertThat(c.moved()).isFalse();
  }

  /** The changes of {@code routes}, checked equal from a diff and from applying its change set. */
  private static ConfigChanges.CollectionChanges both(String before, String after)
      throws Exception {
    JsonNode base = read(before);
    JsonNode target = read(after);
    ConfigChanges fromDiff = ConfigDiff.changes(base, target);
    IndexedConfig.Applied applied =
        IndexedConfig.of(base)
            .apply(ConfigDiff.diff(base, target), ConfigHash.configHashes(target));

    assertThat(applied.changes()).isEqualTo(fromDiff);
    assertThat(applied.config().table()).isEqualTo(target);
    assertThat(fromDiff.collections()).containsOnlyKeys("routes");
    return fromDiff.collections().get("routes");
  }

  private static JsonNode read(String json) throws Exception {
    return Json.readFrozen(json.getBytes(StandardCharsets.UTF_8));
  }
}
