package dev.configsync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.HybridProtocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * What a client logs (slf4j-simple writes to {@code System.err}, captured here): one INFO line per
 * state change naming the node and the hash, and never the configuration's content.
 */
class LoggingTest {
  private static final String SECRET = "s3cr3t-MARKER-7d1f";
  private static final UUID NODE_ID = UUID.fromString("5f4a2c1e-0000-4000-8000-000000000003");

  @Test
  void logsStateChangesWithNodeAndHashButNeverConfigurationContent() throws Exception {
    ManualScheduler scheduler = new ManualScheduler();
    FakeTransport transport = new FakeTransport();
    ObjectMapper json = new ObjectMapper();
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream original = System.err;
    String hash;
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try (ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.example.com:8005"))
            .transport(transport)
            .snapshotStore(new InMemoryStore(NODE_ID))
            .nodeHostname("dp-1")
            .scheduler(scheduler)
            .random(new Random(1))
            .build()) {
      client.start();
      FakeConnection c = transport.last();
      c.open();
      String config =
          "{\"services\":[{\"name\":\"orders\",\"password\":\"" + SECRET + "\"}],\"routes\":[]}";
      byte[] payload = HybridProtocol.reconfigure(json.readTree(config), 1_700_000_000.0);
      hash = dev.configsync.internal.ConfigHash.configHash(json.readTree(config));
      c.deliver(payload);
      await().until(() -> hash.equals(client.status().hash()));
      // A forged message (wrong hash) carrying the secret: refused, and still not logged.
      String forged =
          "{\"type\":\"reconfigure\",\"config_table\":{\"key\":\""
              + SECRET
              + "-2\"},\"config_hash\":\"00000000000000000000000000000001\"}";
      c.deliver(Gzip.compress(forged.getBytes(StandardCharsets.UTF_8)));
      await().until(() -> client.status().rejected() == 1);
      client.usage().record("svc-" + SECRET, "route", null, 200);
      c.fail(new IOException("connection reset"));
      await().until(() -> client.status().state() == SyncState.WAITING_RETRY);
    } finally {
      System.setErr(original);
    }
    String log = captured.toString(StandardCharsets.UTF_8);
    List<String> info = log.lines().filter(l -> l.contains(" INFO ")).toList();

    assertThat(log).doesNotContain(SECRET).doesNotContain("password");
    assertThat(info)
        .anyMatch(
            l -> l.contains("node " + NODE_ID + " connected") && l.contains("no configuration"))
        .anyMatch(l -> l.contains("node " + NODE_ID + " applied configuration " + hash))
        .anyMatch(l -> l.contains("node " + NODE_ID + " disconnected") && l.contains(hash))
        .anyMatch(l -> l.contains("node " + NODE_ID + " stopped"));
    assertThat(log.lines().filter(l -> l.contains(" WARN ")))
        .anyMatch(l -> l.contains("node " + NODE_ID + " rejected configuration"));
  }
}
