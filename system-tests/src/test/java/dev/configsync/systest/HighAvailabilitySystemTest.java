package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.cp.etcd.EtcdCluster;
import dev.configsync.systest.PublishJournal.Attempt;
import dev.configsync.systest.PublishJournal.Outcome;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;

/**
 * Two {@code configsync-cp} replicas on a real 3-member etcd (TLS with client certificates, the
 * {@code --etcd-*} flags), agents on each and on both, and publishes from several threads (one
 * after another on each replica, and bursts of three at once on one) while replicas and etcd
 * members are killed with SIGKILL and etcd loses its quorum for a while. Afterwards, etcd's own
 * history of the configuration key is the reference, as in etcd's functional tests and Jepsen:
 *
 * <ul>
 *   <li>every publish answered 200 is in it, with the hash it was answered;
 *   <li>no publish answered "not published" (409, 503 {@code store_unavailable}, ...) is in it;
 *       publishes without a clear answer are recorded as unknown and may be either;
 *   <li>no replica served, and no agent applied, a configuration etcd never committed, nor an older
 *       one (by etcd's revision) after a newer one;
 *   <li>in the end every replica and every agent runs etcd's latest configuration, and each replica
 *       still takes a publish made with {@code If-Match} of what it serves.
 * </ul>
 *
 * The schedule of faults follows the publishes' progress (so many answers between faults), not the
 * clock, so that a slow machine runs the same story more slowly.
 */
class HighAvailabilitySystemTest extends SystemTest {
  private static final String CONFIG_KEY = "/configsync/config";
  private static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(20);

  private final PublishJournal journal = new PublishJournal();
  private final AtomicInteger ids = new AtomicInteger();
  private final List<String> faults = new CopyOnWriteArrayList<>();
  private final Map<String, List<String>> served = new LinkedHashMap<>();

  @Test
  void concurrentPublishesThroughReplicaAndEtcdCrashesKeepEveryPromiseOfEtcdsHistory()
      throws Exception {
    PkiFiles etcdPki = PkiFiles.create("etcd", processes.dir("etcd-pki"));
    try (EtcdCluster etcd = startEtcd(etcdPki, 3)) {
      ControlPlaneProcess a = replica("cp-a", etcd, etcdPki);
      ControlPlaneProcess b = replica("cp-b", etcd, etcdPki);
      List<ControlPlaneProcess> replicas = List.of(a, b);
      List<AgentProcess> agents =
          List.of(
              agent("agent-a", List.of(a.outlet())),
              agent("agent-b", List.of(b.outlet())),
              agent("agent-ab", List.of(a.outlet(), b.outlet())));

      String initial = a.admin().publishOk(config("initial"));
      for (AgentProcess agent : agents) {
        agent.awaitApplied(initial, PATIENCE);
      }
      List<String> violations = new ArrayList<>();

      ExecutorService burst = Executors.newFixedThreadPool(3);
      ScheduledExecutorService load = Executors.newScheduledThreadPool(4);
      ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor();
      try {
        for (ControlPlaneProcess r : replicas) {
          served.put(r.name(), new CopyOnWriteArrayList<>());
        }
        repeat(watch, () -> recordServed(replicas), 100);

        // Without faults first: bursts of three publishes at once on one replica, each followed
        // by a publish with If-Match of what that replica then serves (issue 15, part 1: the
        // replica went back to an older configuration of its own and refused every later publish).
        for (int round = 1; round <= 6 && violations.isEmpty(); round++) {
          burst(burst, a, "a-alone");
          awaitConvergence(etcd, replicas, agents, violations);
          String serves = a.admin().configHash();
          String id = "a-if-match-" + ids.incrementAndGet();
          Attempt ifMatch =
              journal.publish(a, "a-if-match", id, config(id), serves, PUBLISH_TIMEOUT);
          if (ifMatch.outcome() != Outcome.PUBLISHED) {
            violations.add(
                "after burst "
                    + round
                    + ", cp-a refused a publish with If-Match of the "
                    + serves
                    + " it serves: "
                    + ConfigHistory.describe(ifMatch));
          }
        }
        fault("bursts on cp-a alone done; faults begin");

        // Then publishes from several threads on both replicas, and faults.
        repeat(load, () -> publish(a, "a-seq"), 150);
        repeat(load, () -> publish(b, "b-seq"), 150);
        repeat(load, () -> burst(burst, a, "a-burst"), 400);

        awaitAnswers(15);
        fault("SIGKILL replica cp-b");
        b.kill();
        awaitAnswers(10);
        fault("restart replica cp-b");
        b.restart();
        awaitAnswers(10);

        int leader = etcd.leader();
        fault("SIGKILL etcd leader m" + leader);
        etcd.kill(leader);
        awaitAnswers(10);
        fault("restart etcd m" + leader);
        etcd.restart(leader);
        awaitAnswers(10);

        // Quorum lost: the two followers die, so the leader may still take writes it can never
        // commit alone (until the others come back and it is elected again).
        leader = etcd.leader();
        List<Integer> followers = new ArrayList<>();
        for (int i = 0; i < etcd.size(); i++) {
          if (i != leader) {
            followers.add(i);
          }
        }
        Instant lost = Instant.now();
        fault("SIGKILL etcd followers " + followers + ": quorum lost");
        for (int i : followers) {
          etcd.kill(i);
        }
        awaitAnswers(x -> x.sent().isAfter(lost), 6, Duration.ofSeconds(90));
        // One follower back first: its log is shorter than the old leader's, so the old leader is
        // elected again and commits what it took while alone (what a publish answered "nothing
        // was published" may have left there); then the other.
        fault("restart etcd follower m" + followers.get(0) + ": quorum back");
        etcd.restart(followers.get(0));
        Instant back = Instant.now();
        awaitAnswers(x -> x.sent().isAfter(back), 5, Duration.ofSeconds(60));
        fault("restart etcd follower m" + followers.get(1));
        etcd.restart(followers.get(1));
        awaitAnswers(
            x -> x.sent().isAfter(back) && x.outcome() == Outcome.PUBLISHED,
            10,
            Duration.ofSeconds(60));

        fault("SIGKILL replica cp-a, restarted at once");
        a.kill();
        a.restart();
        Instant restarted = Instant.now();
        awaitAnswers(x -> x.replica().equals("cp-a") && x.sent().isAfter(restarted), 10, PATIENCE);
        fault("publishers stop");
      } finally {
        load.shutdown();
        assertThat(load.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
        burst.shutdown();
        assertThat(burst.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
        watch.shutdown();
        assertThat(watch.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        journal.write(processes.dir().resolve("publishes.jsonl"));
        Files.writeString(
            processes.dir().resolve("served.txt"),
            served.toString().replace("], ", "]\n"),
            StandardCharsets.UTF_8);
        Files.writeString(
            processes.dir().resolve("faults.txt"),
            String.join("\n", faults) + "\n",
            StandardCharsets.UTF_8);
      }

      // Convergence: every replica and agent ends on etcd's latest configuration.
      String latest = awaitConvergence(etcd, replicas, agents, violations);

      // Each replica still publishes over what it serves (If-Match of its ETag).
      for (ControlPlaneProcess r : replicas) {
        String current = r.admin().configHash();
        AdminClient.Answer answer =
            r.admin().publish(config("final-" + r.name()), current, PUBLISH_TIMEOUT);
        if (answer.status() != 200) {
          violations.add(
              r.name() + " refused a publish with If-Match \"" + current + "\": " + answer);
        } else {
          latest = answer.hash();
        }
      }
      String last = latest;
      for (AgentProcess agent : agents) {
        try {
          agent.awaitApplied(last, PATIENCE);
        } catch (AssertionError e) {
          violations.add(agent + " never applied the last publish " + last);
        }
      }

      ConfigHistory history = ConfigHistory.read(etcd, CONFIG_KEY);
      Files.writeString(
          processes.dir().resolve("etcd-history.txt"),
          String.join("\n", history.committed().stream().map(Object::toString).toList()) + "\n",
          StandardCharsets.UTF_8);
      history.checkPublishes(journal.attempts());
      for (ControlPlaneProcess r : replicas) {
        history.checkOrder(r.name() + " (GET /config)", collapse(served.get(r.name())));
      }
      for (AgentProcess agent : agents) {
        history.checkOrder(agent + " (snapshot_applied)", agent.appliedHashes());
      }
      violations.addAll(history.violations());

      assertThat(violations)
          .as(
              "%s; faults: %s; %d publishes: %d published, %d not published, %d unknown;"
                  + " %d revisions in etcd; files in %s",
              "promises broken",
              faults,
              journal.attempts().size(),
              journal.count(x -> x.outcome() == Outcome.PUBLISHED),
              journal.count(x -> x.outcome() == Outcome.NOT_PUBLISHED),
              journal.count(x -> x.outcome() == Outcome.UNKNOWN),
              history.committed().size(),
              processes.dir())
          .isEmpty();
    }
  }

  /**
   * {@code size} etcd members (control-plane-etcd's fixture) whose client URLs take TLS clients
   * with a certificate of {@code pki}'s CA, as docs/high-availability.md recommends; the fixture
   * reads etcd's history with a certificate of its own, and the members' logs stay in this test's
   * directory.
   */
  private EtcdCluster startEtcd(PkiFiles pki, int size) throws IOException {
    PkiFiles.Pair server = pki.server(); // names 127.0.0.1, the host of every client URL
    return EtcdCluster.startTls(
        size,
        new EtcdCluster.ServerTls(server.cert(), server.key(), pki.ca()),
        pki.clientContext(pki.issue("etcd-reader")),
        processes.dir("etcd"));
  }

  private ControlPlaneProcess replica(String name, EtcdCluster etcd, PkiFiles etcdPki) {
    PkiFiles.Pair client = etcdPki.issue(name + "-etcd-client");
    List<String> args = new ArrayList<>();
    for (URI endpoint : etcd.endpoints()) {
      args.add("--etcd-endpoint=" + endpoint);
    }
    args.addAll(
        List.of(
            "--etcd-ca",
            etcdPki.ca().toString(),
            "--etcd-cert",
            client.cert().toString(),
            "--etcd-key",
            client.key().toString(),
            "--replica-name",
            name));
    return ControlPlaneProcess.start(processes, pki, name, args);
  }

  private String config(String id) {
    return Configs.orders(id);
  }

  private void publish(ControlPlaneProcess replica, String client) {
    String id = client + "-" + ids.incrementAndGet();
    journal.publish(replica, client, id, config(id), PUBLISH_TIMEOUT);
  }

  /** Three publishes at once on one replica; returns when all three are answered. */
  private void burst(ExecutorService pool, ControlPlaneProcess replica, String client) {
    List<Future<?>> inFlight = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      inFlight.add(pool.submit(() -> publish(replica, client)));
    }
    for (Future<?> f : inFlight) {
      try {
        f.get();
      } catch (Exception e) {
        faults.add("burst publisher failed: " + e);
      }
    }
  }

  /** Records what each replica serves now (its {@code GET /config} ETag), when it answers. */
  private void recordServed(List<ControlPlaneProcess> replicas) {
    for (ControlPlaneProcess r : replicas) {
      try {
        AdminClient.Answer answer = r.admin().tryGet("/config", Duration.ofSeconds(2));
        if (answer.status() == 200 && answer.etag().isPresent()) {
          served.get(r.name()).add(answer.etag().get());
        }
      } catch (Exception e) {
        // a replica that is down or busy serves nothing to record
      }
    }
  }

  /**
   * Runs {@code task} again {@code delayMillis} after each run ends, until the executor shuts down;
   * a run that throws is noted (an executor would silently stop repeating it).
   */
  private void repeat(ScheduledExecutorService executor, Runnable task, long delayMillis) {
    Runnable guarded =
        () -> {
          try {
            task.run();
          } catch (RuntimeException | Error e) {
            faults.add(Instant.now() + " a load task failed: " + e);
          }
        };
    var unused = executor.scheduleWithFixedDelay(guarded, 0, delayMillis, TimeUnit.MILLISECONDS);
  }

  private void fault(String what) {
    faults.add(Instant.now() + " " + what);
  }

  /** Waits until {@code n} more publishes have been answered, whatever the answer. */
  private void awaitAnswers(int n) {
    int target = journal.attempts().size() + n;
    awaitAnswers(x -> true, target, Duration.ofSeconds(60));
  }

  /** Waits until at least {@code atLeast} publishes that {@code which} accepts were answered. */
  private void awaitAnswers(Predicate<Attempt> which, int atLeast, Duration atMost) {
    eventually().atMost(atMost).until(() -> journal.count(which) >= atLeast);
  }

  private String awaitConvergence(
      EtcdCluster etcd,
      List<ControlPlaneProcess> replicas,
      List<AgentProcess> agents,
      List<String> violations)
      throws Exception {
    try {
      eventually()
          .ignoreExceptions()
          .until(
              () -> {
                String latest = ConfigHistory.read(etcd, CONFIG_KEY).latest().hash();
                for (ControlPlaneProcess r : replicas) {
                  if (!latest.equals(r.admin().configHash())) {
                    return false;
                  }
                }
                for (AgentProcess agent : agents) {
                  if (!latest.equals(agent.runningHash())) {
                    return false;
                  }
                }
                return true;
              });
    } catch (ConditionTimeoutException e) {
      String latest = ConfigHistory.read(etcd, CONFIG_KEY).latest().hash();
      for (ControlPlaneProcess r : replicas) {
        String hash = r.admin().configHash();
        if (!latest.equals(hash)) {
          violations.add(r.name() + " serves " + hash + " while etcd's latest is " + latest);
        }
      }
      for (AgentProcess agent : agents) {
        if (!latest.equals(agent.runningHash())) {
          violations.add(
              agent + " runs " + agent.runningHash() + " while etcd's latest is " + latest);
        }
      }
    }
    return ConfigHistory.read(etcd, CONFIG_KEY).latest().hash();
  }

  /** {@code hashes} without repeats in a row. */
  private static List<String> collapse(List<String> hashes) {
    List<String> out = new ArrayList<>();
    for (String h : hashes) {
      if (out.isEmpty() || !out.get(out.size() - 1).equals(h)) {
        out.add(h);
      }
    }
    return out;
  }
}
