package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrozenNodesIterationTest {

  @Test
  void frozenArraysIterateAndDeepCopy() throws IOException {
    JsonNode tree = Json.readFrozen("{\"routes\":[{\"a\":[1,2]},{\"b\":[]}]}".getBytes(UTF_8));

    List<JsonNode> routes = new ArrayList<>();
    for (JsonNode route : tree.get("routes")) {
      routes.add(route);
    }
    JsonNode copy = tree.deepCopy();
    ((ArrayNode) copy.get("routes")).add(3);

    assertThat(routes).hasSize(2);
    assertThat(copy.get("routes")).hasSize(3);
    assertThat(tree.get("routes")).hasSize(2);
  }

  @Test
  void frozenArrayIteratorsCannotRemove() throws IOException {
    JsonNode tree = Json.readFrozen("[1,2]".getBytes(UTF_8));
    Iterator<JsonNode> it = tree.elements();
    it.next();

    assertThatThrownBy(it::remove).isInstanceOf(UnsupportedOperationException.class);
    assertThat(tree).hasSize(2);
  }
}
