package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.Json;
import dev.configsync.okhttp.internal.WebSocketFrame;
import io.netty.buffer.PooledByteBufAllocator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A node that stops reading must not make the control plane queue one frame per publish. */
class SlowReaderTest {
  private final ControlPlaneFixture f = new ControlPlaneFixture();

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  /** About {@code bytes} of incompressible JSON, so the frame is about as large. */
  private static String bigConfig(int n, int bytes) {
    byte[] noise = new byte[bytes * 3 / 4];
    new Random(n).nextBytes(noise);
    return "{\"n\":" + n + ",\"blob\":\"" + Base64.getEncoder().encodeToString(noise) + "\"}";
  }

  @Test
  void aNodeThatDoesNotReadHoldsAtMostOneFrameInFlightAndOneWaiting() throws Exception {
    f.start(b -> b.heartbeatInterval(Duration.ofMinutes(1)));
    RawDataPlane dp = RawDataPlane.connect(f.dataPlaneTls(), f.address(), null, "0.1.0", 4096);
    f.closeables.add(dp);
    dp.sendBasicInfo(Map.of());
    dp.ping(ConfigHash.NONE);
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    await().until(() -> f.cp.outlet().sessions.size() == 1);
    OutletSession session = f.cp.outlet().sessions.iterator().next();

    int frameBytes = 6 << 20;
    PublishResult first = f.cp.publish(bigConfig(0, frameBytes));
    // The first frame is larger than the socket buffers: its write cannot finish while the node
    // does not read.
    await().until(() -> session.framesStarted() == 1);
    long directAfterFirst = PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
    List<String> hashes = new ArrayList<>();
    hashes.add(first.hash());
    for (int n = 1; n <= 6; n++) {
      hashes.add(f.cp.publish(bigConfig(n, frameBytes)).hash());
    }
    await().until(() -> session.framesReplaced() == 5);
    assertThat(session.framesStarted()).isEqualTo(1);
    long directAfterAll = PooledByteBufAllocator.DEFAULT.metric().usedDirectMemory();
    assertThat(directAfterAll - directAfterFirst)
        .as("direct memory grown by later publishes")
        .isLessThan(frameBytes / 2);

    // Once the node reads again it gets the frame in flight, then only the latest.
    List<String> received = new ArrayList<>();
    while (!received.contains(hashes.get(hashes.size() - 1))) {
      WebSocketFrame frame = dp.read();
      if (frame.opcode() == WebSocketFrame.OP_BINARY) {
        received.add(
            Json.readFrozen(Gzip.decompress(frame.payload().toByteArray(), 64 << 20))
                .path("config_hash")
                .asText());
      }
    }
    assertThat(received).containsExactly(first.hash(), hashes.get(hashes.size() - 1));
    assertThat(session.framesStarted()).isEqualTo(2);
  }
}
