package dev.configsync.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSyncClient;
import dev.configsync.UsageLink;
import dev.configsync.okhttp.OkHttpTransport;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Against a control plane that never acknowledges usage (as Kong's), a node detects it and sends
 * its batches fire-and-forget: written once, then dropped from its buffer.
 */
class UsageFireAndForgetTest {
  @Test
  void fallsBackToFireAndForgetAgainstAControlPlaneThatSendsNoHello() {
    TestPki pki = TestPki.create();
    try (TestControlPlane cp = TestControlPlane.start(pki);
        ConfigSyncClient client =
            ConfigSyncClient.builder()
                .controlPlane(cp.uri())
                .transport(OkHttpTransport.create(pki.dataPlaneTls()))
                .usageFlushInterval(Duration.ofMillis(100))
                .usageHelloTimeout(Duration.ofMillis(300))
                .build()) {
      client.start();
      for (int i = 0; i < 7; i++) {
        client.usage().record("orders", "get", i % 2 == 0 ? "alice" : null, 200 + i);
      }

      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  cp.usageBatches().stream()
                          .flatMap(
                              b ->
                                  java.util.stream.StreamSupport.stream(
                                      b.path("counts").spliterator(), false))
                          .mapToLong(c -> c.path("2xx").asLong())
                          .sum()
                      == 7);
      // The reporter hands a batch to the connection and then publishes its status: the control
      // plane can have the batch before the status says it left the buffer.
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(client.status().usage().link()).isEqualTo(UsageLink.FIRE_AND_FORGET);
                assertThat(client.status().usage().bufferedBatches()).isZero();
              });
      JsonNode batch = cp.usageBatches().get(0);
      assertThat(batch.path("node_id").asText()).isEqualTo(client.status().nodeId().toString());
      assertThat(batch.path("seq").asLong()).isEqualTo(1);
      assertThat(cp.violations()).isEmpty();
    }
  }
}
