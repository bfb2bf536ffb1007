package dev.configsync.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
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

  @Test
  void aBrokenLimitSaysWhereItWasFound() {
    byte[] deep = ("{\"a\":\n" + "[".repeat(2_000) + "]".repeat(2_000) + "}").getBytes(UTF_8);

    Throwable thrown = catchThrowable(() -> Json.readFrozen(deep));

    assertThat(thrown)
        .isInstanceOf(StreamConstraintsException.class)
        .hasMessageContaining("nesting depth (1001)");
    JsonLocation at = ((StreamConstraintsException) thrown).getLocation();
    assertThat(at).isNotNull();
    assertThat(at.getLineNr()).isEqualTo(2);
    assertThat(at.getColumnNr()).isEqualTo(Json.MAX_NESTING_DEPTH + 1);
  }

  @Test
  void aStringOverTheLimitIsRefusedBeforeItIsAllRead() throws IOException {
    // 20 Mi characters of one string, gzipped: the parser must give up at the limit (16 Mi
    // characters, 32 MiB of char buffers), not hold all of it (40 MiB of chars, then a String).
    ByteArrayOutputStream gzip = new ByteArrayOutputStream();
    try (GZIPOutputStream out = new GZIPOutputStream(gzip)) {
      out.write("{\"s\":\"".getBytes(UTF_8));
      byte[] chunk = new byte[1 << 20];
      Arrays.fill(chunk, (byte) 'x');
      for (int i = 0; i < 20; i++) {
        out.write(chunk);
      }
      out.write("\"}".getBytes(UTF_8));
    }
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long me = Thread.currentThread().getId();
    long before = threads.getThreadAllocatedBytes(me);

    Throwable thrown;
    try (InputStream in = Gzip.inflating(gzip.toByteArray(), Long.MAX_VALUE)) {
      thrown = catchThrowable(() -> Json.readFrozen(in));
    }
    long allocated = threads.getThreadAllocatedBytes(me) - before;

    assertThat(thrown)
        .isInstanceOf(StreamConstraintsException.class)
        .hasMessageContaining("String value length")
        .hasMessageContaining("maximum allowed (" + Json.MAX_STRING_LENGTH);
    assertThat(allocated).isLessThan(3L * Json.MAX_STRING_LENGTH); // 2 bytes a char, and slack
  }
}
