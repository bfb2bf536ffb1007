package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

class JsonTest {

  @Test
  void parseErrorsAreDescribedWithoutTheTextTheyQuote() {
    assertThat(describe("{\"key\": s3cretvalue}"))
        .startsWith("Unrecognized token <11 characters, not shown>: was expecting")
        .contains("'null', 'true' or 'false'")
        .endsWith("(line 1, column 9)") // where the token starts
        .doesNotContain("s3cret");
    assertThat(describe("{\"s3cretkey\":1,\"s3cretkey\":2}"))
        .startsWith("Duplicate field <9 characters, not shown>")
        .doesNotContain("s3cret");
    assertThat(describe("{\"key\": \"value\" x}"))
        .startsWith("Unexpected character ('x' (code 120))");
  }

  private static String describe(String json) {
    try {
      Json.readFrozen(json.getBytes(UTF_8));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      return Json.describeWithoutContent(e);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("parsed: " + json);
  }

  @Test
  void readFrozenLeavesTheStreamOpenForTheCaller() throws IOException {
    boolean[] closed = {false};
    InputStream in =
        new FilterInputStream(new ByteArrayInputStream("{\"a\":[1,2]}".getBytes(UTF_8))) {
          @Override
          public void close() throws IOException {
            closed[0] = true;
            super.close();
          }
        };

    JsonNode node = Json.readFrozen(in);

    assertThat(node.path("a").size()).isEqualTo(2);
    assertThat(closed[0]).isFalse();
    assertThat(in.read()).isEqualTo(-1); // the caller can still read on, to the end
  }

  @Test
  void gzipTrailerIsReachableAfterReadingTheJson() throws IOException {
    byte[] gzip = Gzip.compress("{\"type\":\"reconfigure\"}".getBytes(UTF_8));
    try (InputStream in = Gzip.inflating(gzip, 1024)) {
      assertThat(Json.readFrozen(in).path("type").asText()).isEqualTo("reconfigure");
      Gzip.drain(in); // threw "Stream closed" while the parser closed its source
    }
  }
}
