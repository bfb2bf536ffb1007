package dev.configsync;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigRejectedException.Reason;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import java.time.Instant;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Payloads large enough to be inflated on another thread, ahead of the parse: the decoder's answer
 * is the one it gives inflating in place, for good and bad payloads alike.
 */
class PayloadDecoderAheadTest {
  private static final Instant NOW = Instant.parse("2026-11-27T00:00:00Z");
  private final ExecutorService inflater = Executors.newSingleThreadExecutor();
  private final PayloadDecoder inPlace = new PayloadDecoder(64 << 20, 64 << 20);
  private final PayloadDecoder ahead = new PayloadDecoder(64 << 20, 64 << 20, inflater);

  @AfterEach
  void stop() throws InterruptedException {
    inflater.shutdownNow();
    assertThat(inflater.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  /** A frame whose compressed size is well above the inflate-ahead threshold. */
  private static byte[] largeFrame() {
    SplittableRandom random = new SplittableRandom(11);
    ObjectNode table = JsonNodeFactory.instance.objectNode();
    var services = table.putArray("services");
    for (int i = 0; i < 20_000; i++) {
      services.addObject().put("name", "s" + i).put("key", Long.toHexString(random.nextLong()));
    }
    byte[] frame = HybridProtocol.reconfigure(table, 1.7e9);
    assertThat(frame.length).isGreaterThan(4 * PayloadDecoder.INFLATE_AHEAD_BYTES);
    return frame;
  }

  @Test
  void aGoodPayloadDecodesToTheSameSnapshot() throws Exception {
    byte[] frame = largeFrame();
    ConfigSnapshot a = ahead.decode(frame, SnapshotSource.CONTROL_PLANE, NOW);
    ConfigSnapshot b = inPlace.decode(frame, SnapshotSource.CONTROL_PLANE, NOW);
    assertThat(a.hashes()).isEqualTo(b.hashes());
    assertThat(a.config()).isEqualTo(b.config());
  }

  @Test
  void badPayloadsAreRefusedForTheSameReason() {
    byte[] frame = largeFrame();
    byte[] truncated = Arrays.copyOf(frame, frame.length / 2);
    byte[] badCrc = frame.clone();
    badCrc[badCrc.length - 8] ^= 1;
    byte[] notJson = Gzip.compress(new byte[8 << 20]); // 8 MiB of zero bytes
    byte[] bigNotJson = Gzip.compress(randomText(1 << 20));
    PayloadDecoder smallCap = new PayloadDecoder(64 << 20, 512 << 10, inflater);
    for (byte[] payload : new byte[][] {truncated, badCrc, bigNotJson}) {
      assertThat(reason(() -> ahead.decode(payload, SnapshotSource.CONTROL_PLANE, NOW)))
          .isEqualTo(reason(() -> inPlace.decode(payload, SnapshotSource.CONTROL_PLANE, NOW)));
    }
    assertThat(reason(() -> ahead.decode(truncated, SnapshotSource.CONTROL_PLANE, NOW)))
        .isEqualTo(Reason.BAD_GZIP);
    assertThat(reason(() -> ahead.decode(badCrc, SnapshotSource.CONTROL_PLANE, NOW)))
        .isEqualTo(Reason.BAD_GZIP);
    assertThat(reason(() -> smallCap.decode(frame, SnapshotSource.CONTROL_PLANE, NOW)))
        .isEqualTo(Reason.INFLATED_TOO_LARGE);
    assertThat(reason(() -> smallCap.decode(notJson, SnapshotSource.CONTROL_PLANE, NOW)))
        .isIn(Reason.INFLATED_TOO_LARGE, Reason.BAD_JSON);
  }

  private static byte[] randomText(int n) {
    SplittableRandom random = new SplittableRandom(5);
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ('!' + random.nextInt(90));
    }
    return b;
  }

  private interface Decode {
    ConfigSnapshot run() throws ConfigRejectedException;
  }

  private static Reason reason(Decode decode) {
    try {
      decode.run();
    } catch (ConfigRejectedException e) {
      return e.reason();
    }
    throw new AssertionError("the payload was accepted");
  }
}
