package dev.configsync.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Inflating on another thread, ahead of the reader, yields what inflating in place yields. */
class InflateAheadTest {
  private final ExecutorService executor = Executors.newSingleThreadExecutor();

  @AfterEach
  void stop() throws InterruptedException {
    executor.shutdownNow();
    assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  /** Several megabytes, half compressible text, half random, so both code paths of inflate run. */
  private static byte[] content() {
    SplittableRandom random = new SplittableRandom(3);
    byte[] data = new byte[3 * 1024 * 1024 + 17];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i % 2 == 0 ? 'a' + (i / 1000) % 26 : random.nextInt(256));
    }
    return data;
  }

  @Test
  void yieldsTheSameBytesAsInflatingInPlace() throws IOException {
    byte[] data = content();
    byte[] gzip = Gzip.compress(data);
    try (InputStream in = Gzip.inflatingAhead(gzip, Long.MAX_VALUE, executor)) {
      // Mixed read sizes, single bytes included.
      byte[] out = new byte[data.length];
      int n = 0;
      out[n++] = (byte) in.read();
      while (n < out.length) {
        int r = in.read(out, n, Math.min(out.length - n, 1 + (n % 100_000)));
        assertThat(r).isPositive();
        n += r;
      }
      assertThat(in.read()).isEqualTo(-1);
      assertThat(out).isEqualTo(data);
    }
  }

  @Test
  void reportsEveryErrorAsInflatingInPlaceDoes() throws IOException {
    byte[] gzip = Gzip.compress(content());
    // Over the cap.
    try (InputStream in = Gzip.inflatingAhead(gzip, 1024 * 1024, executor)) {
      assertThatThrownBy(in::readAllBytes).isInstanceOf(Gzip.InflatedTooLargeException.class);
    }
    // Truncated.
    try (InputStream in =
        Gzip.inflatingAhead(Arrays.copyOf(gzip, gzip.length / 2), Long.MAX_VALUE, executor)) {
      assertThatThrownBy(in::readAllBytes).isInstanceOf(EOFException.class);
    }
    // A damaged trailer (the CRC), found only at the very end.
    byte[] badCrc = gzip.clone();
    badCrc[badCrc.length - 8] ^= 1;
    try (InputStream in = Gzip.inflatingAhead(badCrc, Long.MAX_VALUE, executor)) {
      assertThatThrownBy(in::readAllBytes).isInstanceOf(ZipException.class);
    }
    // Not gzip at all: refused at once, on the caller's thread.
    assertThatThrownBy(
            () ->
                Gzip.inflatingAhead(
                    "{}".repeat(20).getBytes(StandardCharsets.US_ASCII), 1024, executor))
        .isInstanceOf(ZipException.class);
  }

  @Test
  void closingEarlyStopsTheInflatingTask() throws Exception {
    byte[] gzip = Gzip.compress(content());
    InputStream in = Gzip.inflatingAhead(gzip, Long.MAX_VALUE, executor);
    assertThat(in.read(new byte[10])).isEqualTo(10);
    in.close(); // the task is blocked on a full queue by now, or soon: it must end
    executor.shutdown();
    assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThatThrownBy(in::read).isInstanceOf(IOException.class);
  }

  @Test
  void aStoppedInflatingTaskFailsTheReaderInsteadOfLeavingItWaiting() throws Exception {
    byte[] gzip = Gzip.compress(content());
    InputStream in = Gzip.inflatingAhead(gzip, Long.MAX_VALUE, executor);
    assertThat(in.read(new byte[10])).isEqualTo(10);
    executor.shutdownNow(); // what the client does when it closes during a decode
    assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThatThrownBy(in::readAllBytes)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("inflating stopped");
  }
}
