package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One {@code configsync-cp} with a file store and three {@code configsync-agent}s: what a publish
 * does, seen from the nodes' event lines and files and from the control plane's fleet view.
 */
class PublishSystemTest extends SystemTest {
  @Test
  void aPublishReachesEveryAgentAndSurvivesAControlPlaneCrash() throws Exception {
    ControlPlaneProcess cp =
        controlPlane("cp", "--store", processes.dir("cp").resolve("store").toString());
    List<AgentProcess> agents = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      agents.add(agent("agent-" + i, cp));
    }
    for (AgentProcess agent : agents) {
      agent.awaitEvent("connected", e -> true, PATIENCE);
    }

    String first = Configs.orders("v1");
    String hash = cp.admin().publishOk(first);
    for (AgentProcess agent : agents) {
      agent.awaitOutput(hash, PATIENCE);
      assertThat(agent.output()).isEqualTo(AdminClient.JSON.readTree(first));
    }
    eventually()
        .untilAsserted(
            () -> {
              for (AgentProcess agent : agents) {
                JsonNode node = Fleet.entry(cp.admin(), agent);
                assertThat(node.path("connected").asBoolean()).as("%s connected", agent).isTrue();
                assertThat(node.path("config_hash").asText()).as("%s hash", agent).isEqualTo(hash);
                assertThat(node.path("sync_status").asText()).isEqualTo("normal");
              }
            });

    // A crash of the control plane: it comes back on its store with the same configuration, and
    // the nodes, reconnecting, see that they run it already: nothing is applied again.
    cp.kill();
    cp.restart();
    assertThat(cp.admin().configHash()).isEqualTo(hash);
    eventually()
        .untilAsserted(
            () -> {
              for (AgentProcess agent : agents) {
                assertThat(Fleet.entry(cp.admin(), agent).path("connected").asBoolean())
                    .as("%s reconnected", agent)
                    .isTrue();
              }
            });
    for (AgentProcess agent : agents) {
      assertThat(agent.appliedHashes()).as("%s applied", agent).containsExactly(hash);
    }

    String second = Configs.orders("v2");
    String next = cp.admin().publishOk(second);
    for (AgentProcess agent : agents) {
      agent.awaitOutput(next, PATIENCE);
      assertThat(agent.appliedHashes()).containsExactly(hash, next);
      assertThat(agent.output()).isEqualTo(AdminClient.JSON.readTree(second));
    }
  }
}
