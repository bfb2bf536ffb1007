package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A parsed tree is frozen whole by its batch, without a walk; copies stay mutable. */
class FrozenNodesBatchTest {

  private static final String JSON =
      "{\"services\":[{\"name\":\"a\",\"tags\":[\"x\"]}],\"routes\":[],\"deep\":{\"er\":{\"k\":1}}}";

  @Test
  void everyContainerOfAParsedTreeIsReadOnly() throws IOException {
    JsonNode tree = Json.readFrozen(JSON.getBytes(UTF_8));
    ObjectNode service = (ObjectNode) tree.get("services").get(0);
    ObjectNode deepest = (ObjectNode) tree.get("deep").get("er");
    Map.Entry<String, JsonNode> entry = deepest.properties().iterator().next();

    assertThatThrownBy(() -> ((ObjectNode) tree).put("x", 1))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> ((ArrayNode) tree.get("routes")).add(1))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> service.remove("name"))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> ((ArrayNode) service.get("tags")).set(0, "y"))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> deepest.put("k", 2)).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> entry.setValue(tree))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(tree.toString()).isEqualTo(JSON);
  }

  @Test
  void aCopyAndTheContainersAddedToItStayMutable() throws IOException {
    JsonNode tree = Json.readFrozen(JSON.getBytes(UTF_8));
    ObjectNode copy = (ObjectNode) tree.deepCopy();

    ObjectNode added = copy.putObject("added");
    added.put("k", 1);
    added.putArray("list").add(2);
    ((ArrayNode) copy.get("services")).addObject().put("name", "b");
    ((ObjectNode) copy.get("deep").get("er")).put("k", 3);

    assertThat(copy.get("added").toString()).isEqualTo("{\"k\":1,\"list\":[2]}");
    assertThat(copy.get("services")).hasSize(2);
    assertThat(tree.get("services")).hasSize(1);
    assertThat(tree.get("deep").get("er").get("k").intValue()).isEqualTo(1);
  }

  @Test
  void aBatchFreezesOnlyWhenAsked() {
    FrozenNodes.Batch batch = FrozenNodes.batch();
    ObjectNode root = batch.factory().objectNode();
    root.putArray("list").add(1);

    JsonNode frozen = batch.freeze(root);
    ObjectNode later = batch.factory().objectNode();
    later.put("k", 1);

    assertThat(frozen).isSameAs(root);
    assertThatThrownBy(() -> root.put("k", 1)).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> ((ArrayNode) root.get("list")).add(2))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(later.get("k").intValue()).isEqualTo(1);
  }
}
