package dev.configsync.internal.delta;

import static dev.configsync.internal.delta.ChangeSetPropertiesTest.frozen;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigChanges;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.delta.ChangeSet.CollectionDelta;
import dev.configsync.internal.delta.ChangeSet.Placement;
import dev.configsync.internal.delta.DeltaRejectedException.Reason;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The entity rules, change set rules and refusals, on small hand-written configurations. */
class ChangeSetTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @Test
  void changesWhosePreviousTreeWasReclaimedAreReportedAsInitial() throws Exception {
    JsonNode before = json("{\"routes\":[{\"id\":\"1\"},{\"id\":\"2\"}]}");
    JsonNode after = json("{\"routes\":[{\"id\":\"1\"},{\"id\":\"3\"}]}");
    ConfigChanges real = LazyChanges.between(before, after).get();
    assertThat(real.initial()).isFalse();
    assertThat(real.collections().get("routes").added()).containsOnlyKeys("3");
    assertThat(real.collections().get("routes").removed()).containsOnlyKeys("2");

    // As when the JVM reclaims the softly held previous tree before anyone asked.
    LazyChanges lazy = LazyChanges.between(before, after);
    lazy.forgetPreviousForTests();
    ConfigChanges unknown = lazy.get();
    assertThat(unknown.initial()).isTrue();
    assertThat(unknown.collections().get("routes").added()).containsOnlyKeys("1", "3");
    assertThat(unknown.collections().get("routes").removed()).isEmpty();
  }

  /**
   * A change that touches more entities than the budget (a thousand, or an eighth of the
   * configuration's entities when that is more) is reported as initial, to be read whole; one
   * within it is listed.
   */
  @Test
  void changesPastTheBudgetAreReportedAsInitial() {
    ObjectNode before = MAPPER.createObjectNode();
    ArrayNode routes = before.putArray("routes");
    for (int i = 0; i < 4_000; i++) {
      routes.addObject().put("id", "r" + i).put("path", "/" + i);
    }
    assertThat(LazyChanges.budget(before)).isEqualTo(LazyChanges.MIN_BUDGET);
    for (int changed : List.of(LazyChanges.MIN_BUDGET, LazyChanges.MIN_BUDGET + 1)) {
      ObjectNode after = before.deepCopy();
      for (int i = 0; i < changed; i++) {
        ((ObjectNode) after.get("routes").get(i)).put("path", "/changed-" + i);
      }
      ConfigChanges changes = LazyChanges.between(before, after).get();
      if (changed <= LazyChanges.MIN_BUDGET) {
        assertThat(changes.initial()).isFalse();
        assertThat(changes.collections().get("routes").updated()).hasSize(changed);
      } else {
        assertThat(changes.initial()).isTrue();
        assertThat(changes.collections().get("routes").added()).hasSize(4_000);
      }
    }
    ObjectNode big = MAPPER.createObjectNode();
    ArrayNode many = big.putArray("routes");
    for (int i = 0; i < 16_000; i++) {
      many.addObject().put("id", "r" + i);
    }
    assertThat(LazyChanges.budget(big)).isEqualTo(2_000);
  }

  /**
   * The order of the top-level members is the target's: a new member placed before an old one, or
   * two members swapped, travel as the change set's {@code order} (found by the property test of
   * {@code DeltaSyncTest}: the result had the new member last).
   */
  @Test
  void membersKeepTheTargetsOrder() throws Exception {
    JsonNode base = frozen(json("{\"a\":1,\"routes\":[{\"id\":\"1\"}],\"b\":2}"));
    for (String target :
        List.of(
            "{\"a\":1,\"routes\":[{\"id\":\"1\"}],\"c\":3,\"b\":2}",
            "{\"b\":2,\"a\":1,\"routes\":[{\"id\":\"1\"}]}",
            "{\"c\":[],\"b\":2,\"routes\":[{\"id\":\"2\"}]}")) {
      JsonNode t = frozen(json(target));
      ChangeSet changes = ConfigDiff.diff(base, t);
      assertThat(changes.order()).as(target).isNotEmpty();
      ChangeSet read = ChangeSet.fromJson(frozen(changes.toJson()));
      assertThat(read).isEqualTo(changes);

      JsonNode result =
          IndexedConfig.of(base).apply(read, ConfigHash.configHashes(t)).config().table();
      assertThat(MAPPER.writeValueAsString(result)).isEqualTo(MAPPER.writeValueAsString(t));
    }
    // The order the rest gives already: none sent.
    assertThat(
            ConfigDiff.diff(
                    base, frozen(json("{\"a\":1,\"routes\":[{\"id\":\"1\"}],\"b\":2,\"c\":3}")))
                .order())
        .isEmpty();
    // An order that does not name the result's members is refused.
    ChangeSet bad = new ChangeSet(Map.of(), Map.of(), Set.of(), List.of("a", "b"));
    assertThatThrownBy(() -> IndexedConfig.of(base).apply(bad))
        .isInstanceOf(DeltaRejectedException.class)
        .extracting(e -> ((DeltaRejectedException) e).reason())
        .isEqualTo(Reason.MALFORMED);
  }

  @Test
  void aDiffWithinABudgetGivesUpOnceTheChangeTouchesMoreThanItAllows() throws Exception {
    JsonNode base = json("{\"routes\":[{\"id\":\"1\"},{\"id\":\"2\"},{\"id\":\"3\"}],\"x\":1}");
    JsonNode one =
        json("{\"routes\":[{\"id\":\"1\"},{\"id\":\"2\",\"a\":1},{\"id\":\"3\"}],\"x\":1}");
    JsonNode all = json("{\"routes\":[{\"id\":\"4\"},{\"id\":\"5\"}],\"y\":2}");
    // one upsert: within a budget of 1, and the same change set as without a budget
    assertThat(ConfigDiff.diffWithin(base, one, 1)).isEqualTo(ConfigDiff.diff(base, one));
    assertThat(ConfigDiff.diffWithin(base, one, 0)).isNull();
    // two upserts, three deletes, one member set and one unset: 7
    assertThat(ConfigDiff.diff(base, all).size()).isEqualTo(7);
    assertThat(ConfigDiff.diffWithin(base, all, 7)).isEqualTo(ConfigDiff.diff(base, all));
    assertThat(ConfigDiff.diffWithin(base, all, 6)).isNull();
    assertThat(ConfigDiff.diffWithin(base, all, 2)).isNull();
  }

  @Test
  void collectionsAreKeyedByIdThenByTheirNaturalKeyElseReplacedWhole() throws Exception {
    assertThat(EntityRules.keyField("routes", json("[{\"id\":\"1\",\"name\":\"a\"}]")))
        .isEqualTo("id");
    assertThat(EntityRules.keyField("routes", json("[{\"name\":\"a\"},{\"name\":\"b\"}]")))
        .isEqualTo("name");
    assertThat(EntityRules.keyField("consumers", json("[{\"username\":\"ann\"}]")))
        .isEqualTo("username");
    // Duplicate or missing keys, a collection without a natural key, or not an array: whole.
    assertThat(EntityRules.keyField("routes", json("[{\"name\":\"a\"},{\"name\":\"a\"}]")))
        .isNull();
    assertThat(EntityRules.keyField("routes", json("[{\"id\":\"1\"},{\"name\":\"b\"}]"))).isNull();
    assertThat(EntityRules.keyField("plugins", json("[{\"name\":\"acl\"}]"))).isNull();
    assertThat(EntityRules.keyField("routes", json("[{\"id\":1}]"))).isNull();
    assertThat(EntityRules.keyField("_format_version", json("\"3.0\""))).isNull();
    // An id that one version lacks: the natural key both have is used.
    assertThat(
            EntityRules.commonKeyField(
                "services",
                json("[{\"id\":\"1\",\"name\":\"a\"}]"),
                json("[{\"id\":\"1\",\"name\":\"a\"},{\"name\":\"b\"}]")))
        .isEqualTo("name");
  }

  @Test
  void aOneEntityChangeSharesEverythingElse() throws Exception {
    IndexedConfig base =
        IndexedConfig.of(
            frozen(
                json(
                    "{\"_format_version\":\"3.0\",\"services\":[{\"id\":\"s1\",\"host\":\"a\"}],"
                        + "\"routes\":[{\"id\":\"r1\",\"paths\":[\"/a\"]},{\"id\":\"r2\"}]}")));
    ChangeSet change =
        new ChangeSet(
            Map.of(
                "routes",
                CollectionDelta.upserting(
                    "id", List.of(json("{\"id\":\"r2\",\"paths\":[\"/b\"]}")))),
            Map.of(),
            Set.of());

    IndexedConfig.Applied applied = base.apply(change);

    JsonNode result = applied.config().table();
    assertThat(result.get("services")).isSameAs(base.table().get("services"));
    assertThat(result.get("routes").get(0)).isSameAs(base.table().get("routes").get(0));
    assertThat(result.get("routes").get(1).path("paths").get(0).asText()).isEqualTo("/b");
    assertThat(applied.config().hashes()).isEqualTo(ConfigHash.configHashes(result));
    assertThat(applied.config().hashes().services()).isEqualTo(base.hashes().services());
    assertThat(applied.changes().collections().get("routes").updated()).containsOnlyKeys("r2");
    // Frozen like every configuration tree.
    assertThatThrownBy(() -> ((ObjectNode) result).put("x", 1))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> ((ArrayNode) result.get("routes")).add(1))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> ((ObjectNode) result.get("routes").get(1)).put("x", 1))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void placementsPutEntitiesAfterTheirAnchorAndNewOnesGoLast() throws Exception {
    IndexedConfig base = IndexedConfig.of(json("{\"routes\":" + ids("a", "b", "c", "d") + "}"));
    ChangeSet change =
        new ChangeSet(
            Map.of(
                "routes",
                new CollectionDelta(
                    "id",
                    Map.of("x", json("{\"id\":\"x\"}"), "y", json("{\"id\":\"y\"}")),
                    Set.of("b"),
                    List.of(new Placement("d", null), new Placement("x", "a")))),
            Map.of(),
            Set.of());

    JsonNode routes = base.apply(change).config().table().get("routes");

    assertThat(routes).isEqualTo(json(ids("d", "a", "x", "c", "y")));
  }

  @Test
  void aChangeSetThatDoesNotFitTheBaseIsRefused() throws Exception {
    IndexedConfig base =
        IndexedConfig.of(json("{\"routes\":" + ids("a", "b") + ",\"plugins\":[{\"x\":1}]}"));

    assertRefused(base, delete("routes", "zz"), Reason.BASE_MISMATCH);
    assertRefused(base, delete("plugins", "a"), Reason.BASE_MISMATCH); // not keyed by id
    assertRefused(base, delete("services", "a"), Reason.BASE_MISMATCH); // absent
    assertRefused(
        base,
        new ChangeSet(
            Map.of(
                "routes",
                new CollectionDelta("id", Map.of(), Set.of(), List.of(new Placement("a", "q")))),
            Map.of(),
            Set.of()),
        Reason.BASE_MISMATCH);
    assertRefused(
        base,
        new ChangeSet(
            Map.of(
                "routes",
                new CollectionDelta(
                    "id",
                    Map.of(),
                    Set.of(),
                    List.of(new Placement("a", "b"), new Placement("b", "a")))),
            Map.of(),
            Set.of()),
        Reason.BASE_MISMATCH);
    assertRefused(base, new ChangeSet(Map.of(), Map.of(), Set.of("nope")), Reason.BASE_MISMATCH);
  }

  @Test
  void malformedChangeSetsAreRefusedWhenMade() throws Exception {
    assertMalformed(
        () ->
            new CollectionDelta(
                "id", Map.of("a", json("{\"id\":\"b\"}")), Set.of(), List.of())); // wrong key
    assertMalformed(
        () ->
            new CollectionDelta("id", Map.of("a", json("{\"id\":\"a\"}")), Set.of("a"), List.of()));
    assertMalformed(
        () -> new ChangeSet(Map.of(), Map.of("x", json("1")), Set.of("x"))); // set and unset
    assertMalformed(() -> ChangeSet.fromJson(json("{\"collections\":{\"routes\":{}}}")));
    assertMalformed(() -> ChangeSet.fromJson(json("{\"what\":1}")));
    assertMalformed(
        () ->
            ChangeSet.fromJson(
                json("{\"collections\":{\"routes\":{\"key\":\"id\",\"after\":[[\"a\"]]}}}")));
    assertMalformed(
        () ->
            ChangeSet.fromJson(
                json(
                    "{\"collections\":{\"routes\":{\"key\":\"id\","
                        + "\"upsert\":[{\"id\":\"a\"},{\"id\":\"a\"}]}}}")));
  }

  @Test
  void changesAreReportedPerEntityAndPerWholeMember() throws Exception {
    JsonNode before =
        json(
            "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"a\",\"port\":1},"
                + "{\"name\":\"b\"}],\"plugins\":[{\"name\":\"acl\"}]}");
    JsonNode after =
        json(
            "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"a\",\"port\":2},"
                + "{\"name\":\"c\"}],\"plugins\":[{\"name\":\"cors\"}],\"routes\":[{\"id\":\"r\"}]}");

    ConfigChanges changes = ConfigDiff.changes(before, after);

    assertThat(changes.initial()).isFalse();
    ConfigChanges.CollectionChanges services = changes.collections().get("services");
    assertThat(services.keyField()).isEqualTo("name");
    assertThat(services.added()).containsOnlyKeys("c");
    assertThat(services.updated()).containsOnlyKeys("a");
    assertThat(services.removed()).containsOnlyKeys("b");
    assertThat(changes.collections().get("routes").added()).containsOnlyKeys("r");
    assertThat(changes.replaced()).containsExactly("plugins");
    assertThat(changes.entityCount()).isEqualTo(4);
    assertThat(ConfigDiff.changes(after, after).isEmpty()).isTrue();
  }

  @Test
  void fragmentsAcrossKongsMillionByteRuleHashAsTheWholeDoes() throws Exception {
    ObjectNode table = MAPPER.createObjectNode();
    ArrayNode routes = table.putArray("routes");
    for (int i = 0; i < 40; i++) {
      routes.addObject().put("id", "r" + i).put("blob", "y".repeat(37_000 + i)).put("n", i);
    }
    routes.addObject().put("id", "huge").put("blob", "z".repeat(1_200_000));
    table.putArray("consumers").addObject().put("id", "c").put("blob", "w".repeat(1_100_000));
    IndexedConfig base = IndexedConfig.of(table);
    assertThat(base.hashes()).isEqualTo(ConfigHash.configHashes(table));

    for (String changed : new String[] {"r0", "r17", "r39", "huge"}) {
      ObjectNode entity = MAPPER.createObjectNode().put("id", changed).put("blob", "changed");
      ChangeSet change =
          new ChangeSet(
              Map.of("routes", CollectionDelta.upserting("id", List.of(entity))),
              Map.of(),
              Set.of());
      IndexedConfig.Applied applied = base.apply(change);
      assertThat(applied.config().hashes())
          .isEqualTo(ConfigHash.configHashes(applied.config().table()));
    }
  }

  private static ChangeSet delete(String collection, String key) {
    return new ChangeSet(
        Map.of(collection, new CollectionDelta("id", Map.of(), Set.of(key), List.of())),
        Map.of(),
        Set.of());
  }

  private static void assertRefused(IndexedConfig base, ChangeSet change, Reason reason) {
    assertThatThrownBy(() -> base.apply(change))
        .isInstanceOfSatisfying(
            DeltaRejectedException.class, e -> assertThat(e.reason()).isEqualTo(reason));
  }

  private static void assertMalformed(org.assertj.core.api.ThrowableAssert.ThrowingCallable c) {
    assertThatThrownBy(c)
        .isInstanceOfSatisfying(
            DeltaRejectedException.class, e -> assertThat(e.reason()).isEqualTo(Reason.MALFORMED));
  }

  private static String ids(String... keys) {
    StringBuilder out = new StringBuilder("[");
    for (String k : keys) {
      out.append(out.length() > 1 ? "," : "").append("{\"id\":\"").append(k).append("\"}");
    }
    return out.append(']').toString();
  }

  private static JsonNode json(String text) throws Exception {
    return MAPPER.readTree(text);
  }
}
