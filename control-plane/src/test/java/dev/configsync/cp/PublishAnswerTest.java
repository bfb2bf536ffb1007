package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigSnapshot;
import dev.configsync.SyncEvent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code PUT /config} says whom the configuration went to and whom it was withheld from, and why,
 * with real nodes that can and cannot take it.
 */
class PublishAnswerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private JsonNode put(String body) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:"
                            + f.cp.adminAddress().orElseThrow().getPort()
                            + "/config"))
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body))
                .timeout(Duration.ofSeconds(30))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  @Test
  void theAnswerCountsTheNodesSentTheConfigurationAndThoseWithheldByReason() throws Exception {
    f.start(b -> b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
    for (int i = 0; i < 4; i++) {
      boolean declares = i < 2;
      f.startClient(
          c -> declares ? c.capability("rate-limiting", "3.9.0") : c,
          new CopyOnWriteArrayList<ConfigSnapshot>(),
          new CopyOnWriteArrayList<SyncEvent>());
    }
    await().until(() -> f.cp.dataPlanes().stream().filter(DataPlaneInfo::connected).count() == 4);

    JsonNode withPlugin = put("{\"plugins\":[{\"name\":\"rate-limiting\"}]}");
    assertThat(withPlugin.path("sent_to").asInt()).isEqualTo(2);
    assertThat(withPlugin.path("withheld").path("plugin_set_incompatible").asInt()).isEqualTo(2);
    assertThat(withPlugin.path("withheld").size()).isEqualTo(1);
    assertThat(withPlugin.path("awaiting_basic_info").asInt()).isZero();
    assertThat(withPlugin.path("connected_data_planes").asInt()).isEqualTo(4);

    // Another configuration with the same plugins (each node's verdict is kept per plugin set):
    // the same counts.
    JsonNode samePlugins =
        put("{\"services\":[{\"name\":\"s\"}],\"plugins\":[{\"name\":\"rate-limiting\"}]}");
    assertThat(samePlugins.path("sent_to").asInt()).isEqualTo(2);
    assertThat(samePlugins.path("withheld").path("plugin_set_incompatible").asInt()).isEqualTo(2);
    await()
        .until(
            () ->
                f.cp.dataPlanes().stream()
                        .filter(n -> n.syncStatus() == DataPlaneSyncStatus.PLUGIN_SET_INCOMPATIBLE)
                        .count()
                    == 2);

    // Every node that can take one: all four.
    JsonNode plain = put("{\"services\":[]}");
    assertThat(plain.path("sent_to").asInt()).isEqualTo(4);
    assertThat(plain.path("withheld").size()).isZero();
    assertThat(plain.path("connected_data_planes").asInt()).isEqualTo(4);

    // The counts agree with what the nodes then run and report.
    String hash = plain.path("hash").asText();
    await().until(() -> f.cp.dataPlanes().stream().allMatch(n -> n.configHash().equals(hash)));
    // and the nodes withheld before are listed as in sync again.
    await()
        .until(
            () ->
                f.cp.dataPlanes().stream()
                    .allMatch(n -> n.syncStatus() == DataPlaneSyncStatus.NORMAL));
  }

  @Test
  void aNodeOfAnotherMajorVersionIsCountedAsWithheldForItsVersion() throws Exception {
    f.start(
        b -> b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).version("1.0.0"));
    f.startClient(
        c -> c, new CopyOnWriteArrayList<ConfigSnapshot>(), new CopyOnWriteArrayList<SyncEvent>());
    await().until(() -> f.cp.dataPlanes().stream().filter(DataPlaneInfo::connected).count() == 1);

    JsonNode answer = put("{\"services\":[]}");
    assertThat(answer.path("sent_to").asInt()).isZero();
    assertThat(answer.path("withheld").path("kong_version_incompatible").asInt()).isEqualTo(1);
    assertThat(answer.path("connected_data_planes").asInt()).isEqualTo(1);
  }

  @Test
  void aPublishIsAnsweredWhileTheDataPlaneEventLoopsAreBusy() throws Exception {
    // One data plane event loop, kept busy: the admin API has its own, so the answer to a publish
    // does not wait behind the writes of its fan-out (nor behind anything else the nodes cause).
    f.start(b -> b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).ioThreads(1));
    f.startClient(
        c -> c, new CopyOnWriteArrayList<ConfigSnapshot>(), new CopyOnWriteArrayList<SyncEvent>());
    await().until(() -> f.cp.dataPlanes().stream().filter(DataPlaneInfo::connected).count() == 1);
    OutletSession session = f.cp.outlet().sessions.iterator().next();
    java.util.concurrent.CountDownLatch busy = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    session
        .eventLoop()
        .execute(
            () -> {
              busy.countDown();
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    try {
      assertThat(busy.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

      java.util.concurrent.CompletableFuture<HttpResponse<String>> answer =
          f.adminPut("/config", "{\"services\":[]}");

      await().until(answer::isDone);
      assertThat(release.getCount()).as("the data plane event loop is still busy").isOne();
      assertThat(answer.get().statusCode()).as(answer.get().body()).isEqualTo(200);
      assertThat(JSON.readTree(answer.get().body()).path("sent_to").asInt()).isOne();
    } finally {
      release.countDown();
    }
    // Once free, the event loop sends the node the configuration, which it then reports.
    String hash = f.cp.currentConfig().orElseThrow().hash();
    await().until(() -> f.cp.dataPlanes().stream().allMatch(n -> n.configHash().equals(hash)));
  }
}
