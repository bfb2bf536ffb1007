package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.SyncEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * {@link ControlPlaneServer#close()} says goodbye to every node with the documented close code
 * 1001, "going away": every node must read it, none an end of stream or a reset.
 */
class ShutdownCloseTest {
  private static final int NODES = 8;

  @Test
  void everyNodeReadsTheGoingAwayCloseFrameWhenTheControlPlaneStops() throws Exception {
    for (int round = 0; round < 3; round++) {
      try (ControlPlaneFixture f = new ControlPlaneFixture()) {
        f.start(b -> b);
        List<List<SyncEvent>> events = new ArrayList<>();
        for (int i = 0; i < NODES; i++) {
          List<SyncEvent> mine = new CopyOnWriteArrayList<>();
          events.add(mine);
          f.startClient(c -> c, new CopyOnWriteArrayList<ConfigSnapshot>(), mine);
        }
        PublishResult published = f.cp.publish("{\"services\":[{\"name\":\"s\"}]}");
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    f.cp.dataPlanes().stream()
                            .filter(n -> n.connected() && n.configHash().equals(published.hash()))
                            .count()
                        == NODES);

        f.cp.close();

        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> events.stream().allMatch(e -> firstDisconnect(e) != null));
        for (List<SyncEvent> e : events) {
          assertThat(firstDisconnect(e).reason())
              .as("round %d", round)
              .startsWith("control plane closed the connection (1001");
        }
      }
    }
  }

  private static SyncEvent.Disconnected firstDisconnect(List<SyncEvent> events) {
    for (SyncEvent e : events) {
      if (e instanceof SyncEvent.Disconnected d) {
        return d;
      }
    }
    return null;
  }
}
