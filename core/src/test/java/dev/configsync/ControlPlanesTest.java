package dev.configsync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.internal.ControlPlanes;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A client given several control plane addresses picks one at random on every attempt. */
class ControlPlanesTest {
  private static final URI A = URI.create("wss://cp-a.example.com:8005");
  private static final URI B = URI.create("wss://cp-b.example.com:8005");
  private static final URI C = URI.create("wss://cp-c.example.com:8005");

  private final ManualScheduler scheduler = new ManualScheduler();
  private final FakeTransport transport = new FakeTransport();
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private final List<ConfigSyncClient> clients = new ArrayList<>();

  @AfterEach
  void close() {
    clients.forEach(ConfigSyncClient::close);
  }

  private ConfigSyncClient.Builder builder() {
    return ConfigSyncClient.builder()
        .transport(transport)
        .snapshotStore(new InMemoryStore(UUID.randomUUID()))
        .nodeHostname("dp-1")
        .scheduler(scheduler)
        .random(new Random(7))
        .reconnectDelay(Duration.ofSeconds(1), Duration.ofSeconds(2))
        .listenerExecutor(Runnable::run)
        .onEvent(events::add);
  }

  private static String host(FakeConnection c) {
    return c.request().uri().getHost();
  }

  @Test
  void everyAttemptDialsARandomReplicaOtherThanTheOneBefore() {
    ConfigSyncClient client = builder().controlPlanes(List.of(A, B, C)).build();
    clients.add(client);
    client.start();

    int attempts = 90;
    for (int i = 1; i < attempts; i++) {
      transport.last().fail(new IOException("connection refused"));
      scheduler.advance(Duration.ofSeconds(2));
    }

    assertThat(transport.connectCount()).isEqualTo(attempts);
    Map<String, Integer> perHost = new HashMap<>();
    String previous = null;
    for (int i = 0; i < attempts; i++) {
      FakeConnection c = transport.connection(i);
      String h = host(c);
      assertThat(h).as("attempt %d", i).isNotEqualTo(previous);
      assertThat(c.request().uri().getPath()).isEqualTo("/v1/outlet");
      assertThat(c.request().uri().getQuery()).contains("node_hostname=dp-1");
      perHost.merge(h, 1, Integer::sum);
      previous = h;
    }
    // Uniform over the two others each time: every replica gets a fair share (expected 30 each).
    assertThat(perHost)
        .containsOnlyKeys("cp-a.example.com", "cp-b.example.com", "cp-c.example.com");
    assertThat(perHost.values()).allSatisfy(n -> assertThat(n).isBetween(18, 42));
    // Connecting events name the address actually dialled.
    List<URI> dialled =
        events.stream()
            .filter(e -> e instanceof SyncEvent.Connecting)
            .map(e -> ((SyncEvent.Connecting) e).endpoint())
            .toList();
    assertThat(dialled).hasSize(attempts);
    for (int i = 0; i < attempts; i++) {
      assertThat(dialled.get(i).getHost()).isEqualTo(host(transport.connection(i)));
    }
  }

  @Test
  void aNodeWhoseReplicaClosesMovesToAnotherAndSaysWhere() {
    ConfigSyncClient client = builder().controlPlanes(List.of(A, B)).build();
    clients.add(client);
    client.start();
    FakeConnection first = transport.last();
    first.open();
    first.closeByPeer(1001, "the control plane is shutting down");
    scheduler.advance(Duration.ofSeconds(2));

    FakeConnection second = transport.last();
    assertThat(host(second)).isNotEqualTo(host(first));
    second.open();
    List<URI> connected =
        events.stream()
            .filter(e -> e instanceof SyncEvent.Connected)
            .map(e -> ((SyncEvent.Connected) e).endpoint())
            .toList();
    assertThat(connected).extracting(URI::getHost).containsExactly(host(first), host(second));
  }

  @Test
  void pickIsUniformOverAllAddressesForTheFirstAttempt() {
    ControlPlanes planes = new ControlPlanes(List.of(A, B, C), new Random(1));
    Map<URI, Integer> counts = new HashMap<>();
    for (int i = 0; i < 3000; i++) {
      counts.merge(planes.pick(null), 1, Integer::sum);
    }
    assertThat(counts.values()).allSatisfy(n -> assertThat(n).isBetween(850, 1150));
    assertThat(new ControlPlanes(List.of(A), new Random(1)).pick(A)).isEqualTo(A);
  }

  @Test
  void badAddressListsFailAtOnceNamingTheSetting() {
    assertThatThrownBy(() -> ConfigSyncClient.builder().controlPlanes(List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("controlPlanes must list at least one address");
    assertThatThrownBy(
            () ->
                ConfigSyncClient.builder()
                    .controlPlanes(List.of(A, URI.create("wss://cp-a.example.com:8005/"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("controlPlanes lists wss://cp-a.example.com:8005/v1/outlet twice");
    assertThatThrownBy(
            () ->
                ConfigSyncClient.builder()
                    .controlPlanes(List.of(A, URI.create("https://cp-b.example.com"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be a wss:// URI");
    assertThatThrownBy(() -> ConfigSyncClient.builder().transport(new FakeTransport()).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("controlPlanes(list)");
  }
}
