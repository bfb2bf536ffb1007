package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/**
 * Duplicate keys are noticed by the tree, not the parser; a document that has one is refused with
 * the strict parser's own error, at the same place, whichever way it was read.
 */
class JsonDuplicateKeysTest {

  private static final String DUPLICATE = "{\"a\":1,\"b\":{\"c\":[1,2],\n\"c\":{}},\"d\":3}";

  @Test
  void aDuplicateIsReportedWhereTheKeyIs() {
    JsonProcessingException fromBytes = fromBytes(DUPLICATE);
    JsonProcessingException fromStream = fromStream(DUPLICATE);
    JsonProcessingException strict = strict(DUPLICATE);

    assertThat(strict.getOriginalMessage()).startsWith("Duplicate field 'c'");
    assertThat(strict.getLocation().getLineNr()).isEqualTo(2);
    assertThat(strict.getLocation().getColumnNr()).isEqualTo(4);
    for (JsonProcessingException e : new JsonProcessingException[] {fromBytes, fromStream}) {
      assertThat(e.getOriginalMessage()).isEqualTo(strict.getOriginalMessage());
      assertThat(e.getLocation().getLineNr()).isEqualTo(2);
      assertThat(e.getLocation().getColumnNr()).isEqualTo(4);
    }
  }

  @Test
  void aDuplicateBeforeAnotherErrorIsTheOneReported() {
    String json = "{\"a\":1,\"a\":2,\"b\":[1,2}";

    assertThat(fromBytes(json).getOriginalMessage()).startsWith("Duplicate field 'a'");
    assertThat(fromStream(json).getOriginalMessage()).startsWith("Duplicate field 'a'");
  }

  @Test
  void anErrorBeforeADuplicateIsTheOneReported() {
    String json = "{\"a\":[1,2},\"a\":2}";

    assertThat(fromBytes(json).getOriginalMessage()).startsWith("Unexpected close marker");
    assertThat(fromStream(json).getOriginalMessage()).startsWith("Unexpected close marker");
  }

  @Test
  void aDocumentWithoutDuplicatesIsReadOnce() throws IOException {
    String json = "{\"a\":{\"a\":1},\"b\":[{\"a\":2},{\"a\":3}]}";

    JsonNode node =
        Json.readFrozen(
            new ByteArrayInputStream(json.getBytes(UTF_8)),
            () -> {
              throw new AssertionError("read a second time");
            });

    assertThat(node.toString()).isEqualTo(json);
    assertThat(Json.readFrozen(json.getBytes(UTF_8)).toString()).isEqualTo(json);
  }

  private static JsonProcessingException fromBytes(String json) {
    return catchThrowableOfType(
        JsonProcessingException.class, () -> Json.readFrozen(json.getBytes(UTF_8)));
  }

  private static JsonProcessingException fromStream(String json) {
    int[] opened = {0};
    JsonProcessingException e =
        catchThrowableOfType(
            JsonProcessingException.class,
            () ->
                Json.readFrozen(
                    new ByteArrayInputStream(json.getBytes(UTF_8)),
                    () -> {
                      opened[0]++;
                      return new ByteArrayInputStream(json.getBytes(UTF_8));
                    }));
    assertThat(opened[0]).isLessThanOrEqualTo(1);
    return e;
  }

  /** What the strict parser alone says. */
  private static JsonProcessingException strict(String json) {
    return catchThrowableOfType(
        JsonProcessingException.class,
        () -> {
          try (InputStream in = new ByteArrayInputStream(json.getBytes(UTF_8))) {
            Json.readFrozen(in);
          }
        });
  }
}
