package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigRejectedException;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.DataPlaneSyncStatus;
import dev.configsync.examples.gateway.GatewayTestBed.Upstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plugins and the example gateway, against the real control plane: it declares only the plugins it
 * is given, receives configurations that use them, is withheld from the others, and refuses a
 * configuration with an undeclared plugin that reaches it anyway.
 */
class GatewayPluginTest {
  @TempDir Path dir;
  private GatewayTestBed bed;

  @BeforeEach
  void setUp() {
    bed = new GatewayTestBed(dir);
  }

  @AfterEach
  void tearDown() {
    bed.close();
  }

  /** Config A with key-auth on its route (enforced, in this story, by a proxy in front). */
  private static String withKeyAuth(Upstream one) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"one\",\"url\":\""
        + one.url()
        + "\",\"routes\":[{\"name\":\"a\",\"paths\":[\"/a\"],\"plugins\":[{\"name\":\"key-auth\"}]}]}]}";
  }

  private Optional<DataPlaneInfo> dataPlane(Gateway gateway) {
    String id = gateway.client().status().nodeId().toString();
    return bed.cp().dataPlanes().stream().filter(d -> d.id().equals(id)).findFirst();
  }

  @Test
  void aDeclaredPluginIsReceivedAnUndeclaredOneWithheldAndRefused() throws Exception {
    Upstream one = bed.upstream("upstream-1");
    bed.startControlPlane();
    String hash = bed.cp().publish(withKeyAuth(one)).hash();

    Gateway declaring =
        bed.startGateway(
            "declaring", c -> c, UsageRecorder.none(), g -> g.plugin("key-auth", "3.4.0"));
    Gateway plain = bed.startGateway("plain");

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> declaring.routingTable().map(t -> t.hash().equals(hash)).orElse(false));
    assertThat(bed.get(declaring, "/a").statusCode()).isEqualTo(200);
    assertThat(dataPlane(declaring).orElseThrow().capabilities())
        .isEqualTo(Map.of("key-auth", "3.4.0"));

    // The other gateway declares nothing: the control plane sends it nothing, and says why.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                dataPlane(plain)
                    .filter(d -> d.syncStatus() == DataPlaneSyncStatus.PLUGIN_SET_INCOMPATIBLE)
                    .isPresent());
    assertThat(plain.routingTable()).isEmpty();
    assertThat(bed.get(plain, "/a").statusCode()).isEqualTo(503);

    // The same configuration by hand: the gateway refuses it rather than route without key-auth.
    Path file = Files.writeString(dir.resolve("manual.json"), withKeyAuth(one));
    assertThatThrownBy(() -> plain.client().loadManual(file, true))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("key-auth")
        .hasMessageContaining("does not run");
    assertThat(plain.routingTable()).isEmpty();
  }
}
