package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.ChangeSet;
import dev.configsync.internal.delta.DeltaFrame;
import dev.configsync.internal.delta.IndexedConfig;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A one-entity change to a generated configuration, both ways: route {@link #routeId} of the
 * configuration as generated ({@link #original}) and the same route with one more tag ({@link
 * #changed}), and the two {@code reconfigure_delta} frames that go from one to the other, as a
 * configsync control plane sends them. Applying them alternately never ends on a configuration the
 * node already runs.
 */
final class DeltaWorkload {
  final JsonNode base;
  final ConfigHashes baseHashes;
  final String routeId;
  final JsonNode original;
  final JsonNode changed;
  final byte[] toChanged;
  final byte[] toOriginal;

  private DeltaWorkload(
      JsonNode base,
      ConfigHashes baseHashes,
      String routeId,
      JsonNode original,
      JsonNode changed,
      byte[] toChanged,
      byte[] toOriginal) {
    this.base = base;
    this.baseHashes = baseHashes;
    this.routeId = routeId;
    this.original = original;
    this.changed = changed;
    this.toChanged = toChanged;
    this.toOriginal = toOriginal;
  }

  /** The change of the route in the middle of {@code tableJson}'s {@code routes}. */
  static DeltaWorkload of(byte[] tableJson) throws IOException {
    JsonNode base = Json.readFrozen(tableJson);
    JsonNode routes = base.path("routes");
    JsonNode original = routes.get(routes.size() / 2);
    ObjectNode changed = original.deepCopy();
    changed.putArray("tags").add("bench").add("changed-by-one-entity-delta");
    String id = original.path("id").asText();
    IndexedConfig indexed = IndexedConfig.of(base);
    ConfigHashes baseHashes = ConfigHash.configHashes(base);
    IndexedConfig.Applied there = indexed.apply(upsert(changed));
    IndexedConfig.Applied back = there.config().apply(upsert(original));
    if (!back.config().hashes().equals(baseHashes)) {
      throw new IllegalStateException("the change and its undo do not give the base again");
    }
    double now = System.currentTimeMillis() / 1000.0;
    byte[] toChanged =
        new DeltaFrame(baseHashes.config(), there.config().hashes(), 1, now, upsert(changed))
            .encode();
    byte[] toOriginal =
        new DeltaFrame(there.config().hashes().config(), baseHashes, 2, now, upsert(original))
            .encode();
    return new DeltaWorkload(base, baseHashes, id, original, changed, toChanged, toOriginal);
  }

  private static ChangeSet upsert(JsonNode route) {
    return new ChangeSet(
        Map.of("routes", ChangeSet.CollectionDelta.upserting("id", List.of(route))),
        Map.of(),
        Set.of());
  }
}
