package dev.configsync.systest;

import com.fasterxml.jackson.databind.JsonNode;

/** Reading the control plane's fleet view ({@code GET /clustering/data-planes}). */
final class Fleet {
  private Fleet() {}

  /**
   * The entry of {@code agent} (found by its label {@code node}); fails when the control plane does
   * not list it.
   */
  static JsonNode entry(AdminClient admin, AgentProcess agent) {
    return entry(admin, agent.name());
  }

  /** The entry whose label {@code node} is {@code name}. */
  static JsonNode entry(AdminClient admin, String name) {
    JsonNode all = admin.dataPlanes();
    for (JsonNode node : all) {
      if (node.path("labels").path("node").asText().equals(name)) {
        return node;
      }
    }
    throw new AssertionError(name + " is not in GET /clustering/data-planes: " + all);
  }

  /** The entry whose {@code id} is {@code nodeId}. */
  static JsonNode entryById(AdminClient admin, String nodeId) {
    JsonNode all = admin.dataPlanes();
    for (JsonNode node : all) {
      if (node.path("id").asText().equals(nodeId)) {
        return node;
      }
    }
    throw new AssertionError(nodeId + " is not in GET /clustering/data-planes: " + all);
  }
}
