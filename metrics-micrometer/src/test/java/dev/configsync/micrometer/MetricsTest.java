package dev.configsync.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSyncClient;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.ServerTls;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real client and a real control plane over mutual TLS, their metrics in a registry. */
class MetricsTest {
  private static final Duration HEARTBEAT = Duration.ofMillis(200);

  @TempDir Path cache;

  @Test
  void clientAndControlPlaneMetricsAppearInASimpleMeterRegistry() throws Exception {
    TestPki pki = TestPki.create();
    HeldCertificate cert = pki.controlPlaneCertificate();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    ControlPlaneServer cp =
        ControlPlaneServer.builder()
            .tls(
                ServerTls.pkiFromPem(
                    cert.certificatePem(), cert.privateKeyPkcs8Pem(), pki.ca().certificatePem()))
            .listen("127.0.0.1", 0)
            .heartbeatInterval(HEARTBEAT)
            .ioThreads(1)
            .start();
    try (ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://localhost:" + cp.address().getPort()))
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .snapshotStore(FileSnapshotStore.open(cache))
            .heartbeatInterval(HEARTBEAT)
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(100))
            .usageFlushInterval(Duration.ofMillis(100))
            .validator(
                s -> {
                  if (s.config().has("bad")) {
                    throw new IllegalArgumentException("no bad configurations here");
                  }
                })
            .metrics(MicrometerSyncMetrics.of(registry))
            .build()) {
      new ControlPlaneMetrics(cp).bindTo(registry);
      client.start();
      cp.publish("{\"services\":[{\"name\":\"a\"}]}");
      await().until(() -> client.status().hasConfiguration());
      cp.publish("{\"bad\":true}");
      await().until(() -> client.status().rejected() == 1);
      client.usage().record("a", "r", null, 200);
      client.usage().record("a", "r", null, 200);
      client.usage().record("a", "r", "", 999); // refused
      await().atMost(Duration.ofSeconds(10)).until(() -> cp.usage().apiCalls() == 2);
      await().until(() -> client.status().usage().acknowledgedBatches() >= 1);

      assertThat(registry.get("configsync.connected").gauge().value()).isEqualTo(1);
      assertThat(
              registry.get("configsync.connection.state").tag("state", "connected").gauge().value())
          .isEqualTo(1);
      assertThat(
              registry
                  .get("configsync.connection.state")
                  .tag("state", "waiting_retry")
                  .gauge()
                  .value())
          .isZero();
      assertThat(registry.get("configsync.sync.age").gauge().value()).isBetween(0.0, 5.0);
      assertThat(
              registry.get("configsync.applies").tag("source", "control_plane").counter().count())
          .isEqualTo(1);
      assertThat(registry.get("configsync.apply.duration").timer().count()).isEqualTo(1);
      assertThat(registry.get("configsync.rejects").tag("reason", "validator").counter().count())
          .isEqualTo(1);
      assertThat(registry.get("configsync.payload.size").summary().count()).isEqualTo(2);
      assertThat(registry.get("configsync.cache.write").tag("outcome", "ok").timer().count())
          .isEqualTo(1);
      assertThat(registry.get("configsync.cache.stale").gauge().value()).isZero();
      assertThat(registry.get("configsync.license.state").tag("state", "none").gauge().value())
          .isEqualTo(1);
      assertThat(registry.get("configsync.license.state").tag("state", "valid").gauge().value())
          .isZero();
      assertThat(registry.get("configsync.license.expiry").gauge().value()).isNaN();
      assertThat(registry.get("configsync.usage.batches.sent").counter().count()).isPositive();
      assertThat(registry.get("configsync.usage.backlog.batches").gauge().value()).isZero();
      assertThat(registry.get("configsync.usage.refused.records").functionCounter().count())
          .isEqualTo(1);
      assertThat(registry.get("configsync.usage.lost.records").functionCounter().count()).isZero();
      assertThat(registry.get("configsync.cp.data_planes.connected").gauge().value()).isEqualTo(1);
      assertThat(registry.get("configsync.cp.data_planes.in_sync").gauge().value()).isEqualTo(0);
      assertThat(registry.get("configsync.cp.usage.api_calls").functionCounter().count())
          .isEqualTo(2);
      assertThat(registry.get("configsync.cp.usage.batches.accepted").functionCounter().count())
          .isPositive();

      cp.close(); // the client loses its connection and retries
      await().until(() -> registry.get("configsync.reconnects").counter().count() >= 1);
      await().until(() -> registry.get("configsync.connected").gauge().value() == 0);
    } finally {
      cp.close();
    }
  }

  @Test
  void oneInstanceServesOneClient() {
    MicrometerSyncMetrics metrics = MicrometerSyncMetrics.of(new SimpleMeterRegistry());
    ConfigSyncClient.Builder builder =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://localhost:1"))
            .transport(OkHttpTransport.create(TestPki.create().dataPlaneTls()))
            .metrics(metrics);
    try (ConfigSyncClient first = builder.build()) {
      // The guard around metrics logs what bind throws; the second client's gauges are not
      // registered, so the first client's stay correct.
      try (ConfigSyncClient second = builder.build()) {
        assertThat(second.status()).isNotNull();
      }
      assertThat(first.status()).isNotNull();
    }
    assertThatThrownBy(() -> metrics.bind(() -> null)).isInstanceOf(IllegalStateException.class);
  }
}
