package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.testkit.PrometheusText;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /metrics} on the admin API over a real socket, with a real data plane connected: the
 * page parses as the Prometheus text format and its figures follow what the server does.
 */
class MetricsEndpointTest {
  private static final String TOKEN = "metrics-token-0123456789";
  private static final Duration SLOW_HEARTBEAT = Duration.ofSeconds(3);
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private void start(boolean token) throws Exception {
    f.start(
        b -> {
          // Heartbeats slow enough that a loaded machine does not drop the nodes between the
          // checks and the scrape.
          b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
              .heartbeatInterval(SLOW_HEARTBEAT);
          return token ? b.adminToken(TOKEN) : b;
        });
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + f.cp.adminAddress().orElseThrow().getPort() + path);
  }

  private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return http.send(
        request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> put(String body, String... headers) throws Exception {
    HttpRequest.Builder r =
        HttpRequest.newBuilder(uri("/config"))
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) {
      r.headers(headers);
    }
    return send(r);
  }

  private PrometheusText scrape(String... headers) throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(uri("/metrics")).GET();
    if (headers.length > 0) {
      r.headers(headers);
    }
    HttpResponse<String> response = send(r);
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValue("text/plain; version=0.0.4; charset=utf-8");
    return PrometheusText.parse(response.body());
  }

  @Test
  void withATokenTheMetricsNeedItLikeEveryOtherEndpoint() throws Exception {
    start(true);
    HttpResponse<String> none = send(HttpRequest.newBuilder(uri("/metrics")).GET());
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.body()).contains("Authorization: Bearer").doesNotContain("configsync_cp");
    HttpResponse<String> wrong =
        send(
            HttpRequest.newBuilder(uri("/metrics"))
                .header("Authorization", "Bearer not-the-token")
                .GET());
    assertThat(wrong.statusCode()).isEqualTo(401);

    PrometheusText page = scrape("Authorization", "Bearer " + TOKEN);
    assertThat(page.value("configsync_cp_config_present")).isEqualTo(0);
    assertThat(page.value("configsync_cp_data_planes_known")).isEqualTo(0);
    assertThat(page.value("configsync_cp_store_degraded")).isEqualTo(0);
    assertThat(page.value("configsync_cp_admin_connections")).isGreaterThanOrEqualTo(1);
    assertThat(page.value("configsync_cp_info", "version", f.cp.version())).isEqualTo(1);
    assertThat(page.names()).doesNotContain("configsync_cp_config_published_timestamp_seconds");
  }

  @Test
  void onlyGetIsAllowed() throws Exception {
    start(false);
    HttpResponse<String> post =
        send(HttpRequest.newBuilder(uri("/metrics")).POST(HttpRequest.BodyPublishers.ofString("")));
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET");
  }

  @Test
  void theFiguresFollowPublishesNodesAndFailures() throws Exception {
    start(false); // loopback without a token: served to requests naming 127.0.0.1
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    ConfigSyncClient compatible =
        f.startClient(
            c ->
                c.heartbeatInterval(SLOW_HEARTBEAT)
                    .deadAfter(SLOW_HEARTBEAT.multipliedBy(3).dividedBy(2))
                    .capability("acl", "3.4.0"),
            snapshots,
            events);
    ConfigSyncClient withheld =
        f.startClient(
            c ->
                c.heartbeatInterval(SLOW_HEARTBEAT)
                    .deadAfter(SLOW_HEARTBEAT.multipliedBy(3).dividedBy(2)),
            new CopyOnWriteArrayList<>(),
            events);

    String config = "{\"services\":[{\"name\":\"a\",\"plugins\":[{\"name\":\"acl\"}]}]}";
    HttpResponse<String> published = put(config);
    assertThat(published.statusCode()).as(published.body()).isEqualTo(200);
    PublishedConfig current = f.cp.currentConfig().orElseThrow();
    await().until(() -> current.hash().equals(compatible.status().hash()));
    await()
        .until(
            () ->
                f.cp.dataPlanes().stream()
                    .anyMatch(n -> n.syncStatus() == DataPlaneSyncStatus.PLUGIN_SET_INCOMPATIBLE));

    assertThat(put(config).statusCode()).isEqualTo(200); // unchanged
    assertThat(put("{not json").statusCode()).isEqualTo(400); // invalid
    assertThat(put("{\"services\":[]}", "If-Match", "\"" + "0".repeat(32) + "\"").statusCode())
        .isEqualTo(409); // conflict
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(current.hash());

    PrometheusText page = scrape();
    assertThat(page.value("configsync_cp_data_planes_known")).isEqualTo(2);
    assertThat(page.value("configsync_cp_data_planes_connected")).isEqualTo(2);
    assertThat(page.value("configsync_cp_data_planes_in_sync")).isEqualTo(1);
    assertThat(page.value("configsync_cp_data_planes_incompatible")).isEqualTo(1);
    assertThat(page.value("configsync_cp_data_planes_sync_status", "sync_status", "normal"))
        .isEqualTo(1);
    assertThat(
            page.value(
                "configsync_cp_data_planes_sync_status", "sync_status", "plugin_set_incompatible"))
        .isEqualTo(1);
    assertThat(
            page.value(
                "configsync_cp_data_planes_sync_status",
                "sync_status",
                "kong_version_incompatible"))
        .isEqualTo(0);
    assertThat(page.value("configsync_cp_config_present")).isEqualTo(1);
    assertThat(page.value("configsync_cp_config_payload_bytes")).isEqualTo(current.payloadBytes());
    assertThat(page.value("configsync_cp_config_published_timestamp_seconds"))
        .isEqualTo(current.publishedAt().toEpochMilli() / 1000.0);
    assertThat(page.value("configsync_cp_publishes_total", "outcome", "changed")).isEqualTo(1);
    assertThat(page.value("configsync_cp_publishes_total", "outcome", "unchanged")).isEqualTo(1);
    assertThat(page.value("configsync_cp_publish_failures_total", "kind", "invalid")).isEqualTo(1);
    assertThat(page.value("configsync_cp_publish_failures_total", "kind", "conflict")).isEqualTo(1);
    assertThat(page.value("configsync_cp_publish_failures_total", "kind", "store")).isEqualTo(0);
    assertThat(page.types())
        .containsEntry("configsync_cp_publishes_total", "counter")
        .containsEntry("configsync_cp_data_planes_connected", "gauge");

    // The library's own publish counts too, and its failures.
    f.cp.publish("{\"services\":[{\"name\":\"b\"}]}");
    try {
      f.cp.publish("[1]");
    } catch (InvalidConfigurationException expected) {
      // counted below
    }
    PrometheusText after = scrape();
    assertThat(after.value("configsync_cp_publishes_total", "outcome", "changed")).isEqualTo(2);
    assertThat(after.value("configsync_cp_publish_failures_total", "kind", "invalid")).isEqualTo(2);
    await().until(() -> withheld.status().hash() != null);
    assertThat(scrape().value("configsync_cp_data_planes_incompatible")).isEqualTo(0);
  }
}
