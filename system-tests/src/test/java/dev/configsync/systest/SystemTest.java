package dev.configsync.systest;

import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * What every system test shares: a directory of its own, a PKI written to files, and the processes
 * it starts, every one of which is killed after the test, passed or failed.
 */
abstract class SystemTest {
  /** How long a change may take to show on a loaded 2-core machine; never a verdict by itself. */
  static final Duration PATIENCE = Duration.ofSeconds(30);

  Processes processes;
  PkiFiles pki;

  @BeforeEach
  void createProcesses(TestInfo test) {
    processes =
        Processes.in(
            getClass().getSimpleName() + "/" + test.getTestMethod().orElseThrow().getName());
    pki = PkiFiles.create("systest", processes.dir("pki"));
  }

  @AfterEach
  void endProcesses() {
    processes.close();
  }

  ControlPlaneProcess controlPlane(String name, String... extraArgs) {
    return ControlPlaneProcess.start(processes, pki, name, List.of(extraArgs));
  }

  AgentProcess agent(String name, ControlPlaneProcess cp, String... extraArgs) {
    return AgentProcess.start(processes, pki, name, List.of(cp.outlet()), List.of(extraArgs));
  }

  AgentProcess agent(String name, List<URI> controlPlanes, String... extraArgs) {
    return AgentProcess.start(processes, pki, name, controlPlanes, List.of(extraArgs));
  }

  static ConditionFactory eventually() {
    return await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100));
  }

  /** {@link #eventually()}, failing at once when {@code agent}'s process has ended. */
  static ConditionFactory eventually(AgentProcess agent) {
    return eventually()
        .failFast(
            () -> {
              if (!agent.process().isAlive()) {
                throw new AssertionError(agent + " ended\n" + agent.process().tails());
              }
            });
  }
}
