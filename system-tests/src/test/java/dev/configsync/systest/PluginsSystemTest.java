package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Configurations that use a plugin: they reach the nodes that declare it ({@code --capability
 * NAME=VERSION}), and are withheld from the others, visibly: the control plane's fleet view says
 * why, and so does the answer to the publish.
 */
class PluginsSystemTest extends SystemTest {
  private static final String PLUGIN = "rate-limiting";

  @Test
  void aConfigurationUsingAPluginReachesAgentsThatDeclareItAndIsVisiblyWithheldFromOthers()
      throws Exception {
    ControlPlaneProcess cp = controlPlane("cp", "--capability", PLUGIN + "=3.9.0");
    AgentProcess declares = agent("declares", cp, "--capability", PLUGIN + "=3.9.1");
    AgentProcess lacks = agent("lacks", cp);
    AgentProcess older = agent("older", cp, "--capability", PLUGIN + "=2.8.0");
    List<AgentProcess> all = List.of(declares, lacks, older);

    String plain = cp.admin().publishOk(Configs.orders("plain"));
    for (AgentProcess agent : all) {
      agent.awaitOutput(plain, PATIENCE);
    }

    String withPlugin =
        Configs.withPlugin(Configs.base("plugin", "http://127.0.0.1:9/"), PLUGIN).toString();
    AdminClient.Answer answer = cp.admin().publish(withPlugin, PATIENCE);
    assertThat(answer.status()).as("%s", answer).isEqualTo(200);
    String hash = answer.hash();

    declares.awaitOutput(hash, PATIENCE);
    assertThat(declares.output()).isEqualTo(AdminClient.JSON.readTree(withPlugin));
    eventually()
        .untilAsserted(
            () -> {
              JsonNode lacking = Fleet.entry(cp.admin(), lacks);
              assertThat(lacking.path("sync_status").asText()).isEqualTo("plugin_set_incompatible");
              assertThat(lacking.path("sync_status_reason").asText()).contains(PLUGIN);
              assertThat(lacking.path("config_hash").asText()).isEqualTo(plain);
              JsonNode old = Fleet.entry(cp.admin(), older);
              assertThat(old.path("sync_status").asText()).isEqualTo("plugin_version_incompatible");
              assertThat(old.path("sync_status_reason").asText()).contains(PLUGIN);
              JsonNode ok = Fleet.entry(cp.admin(), declares);
              assertThat(ok.path("sync_status").asText()).isEqualTo("normal");
              assertThat(ok.path("config_hash").asText()).isEqualTo(hash);
            });
    // The withheld nodes still run, and still write, the configuration before.
    for (AgentProcess agent : List.of(lacks, older)) {
      assertThat(agent.appliedHashes()).as("%s applied", agent).containsExactly(plain);
      assertThat(agent.output()).isEqualTo(AdminClient.JSON.readTree(Configs.orders("plain")));
    }

    // The publish's answer says how many nodes were sent it and how many withheld, and why
    // (issue 15, part 6: it said "connected_data_planes": 3 and nothing else).
    assertThat(answer.json().path("connected_data_planes").asInt()).as("%s", answer).isEqualTo(3);
    assertThat(answer.json().path("sent_to").asInt(-1)).as("%s", answer).isEqualTo(1);
    assertThat(answer.json().path("withheld").path("plugin_set_incompatible").asInt(-1))
        .as("%s", answer)
        .isEqualTo(1);
    assertThat(answer.json().path("withheld").path("plugin_version_incompatible").asInt(-1))
        .as("%s", answer)
        .isEqualTo(1);
  }

  @Test
  void theExampleGatewayRoutesByAConfigurationUsingAPluginItDeclares() throws Exception {
    try (Upstream upstream = Upstream.start()) {
      ControlPlaneProcess cp = controlPlane("cp");
      GatewayProcess gateway =
          GatewayProcess.start(
              processes, pki, "gateway", cp, List.of("--capability", PLUGIN + "=3.9.0"));
      String hash =
          cp.admin()
              .publishOk(
                  Configs.withPlugin(Configs.base("plugin", upstream.url()), PLUGIN).toString());
      eventually().ignoreExceptions().until(() -> hash.equals(gateway.routedBy("/orders/1")));
      assertThat(gateway.get("/orders/1").body()).isEqualTo("upstream");
      assertThat(Fleet.entryById(cp.admin(), gateway.nodeId()).path("sync_status").asText())
          .isEqualTo("normal");
    }
  }
}
