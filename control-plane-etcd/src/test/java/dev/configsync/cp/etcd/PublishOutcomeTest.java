package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.cp.ConfigConflictException;
import dev.configsync.cp.etcd.internal.rpc.TxnResponse;
import io.grpc.Status;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What {@link EtcdConfigStore#save(byte[], String, String)} answers when etcd applied a publish
 * without saying so clearly: a copy of the same transaction sent again must never be told that the
 * publish conflicts with itself. A small gRPC proxy ({@link GrpcProxy}) in front of a real
 * one-member etcd cluster plays the member whose answer went wrong; the store talks to etcd through
 * it.
 */
class PublishOutcomeTest {
  private static final String FIRST = "11111111111111111111111111111111";
  private static final String OTHER = "22222222222222222222222222222222";

  @AutoClose private static EtcdCluster etcd;

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeAll
  static void startEtcd() throws IOException {
    etcd = EtcdCluster.start(1);
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  /** A proxy to etcd's member 0 that hands each transaction to {@code rule}. */

  /**
   * A proxy that forwards every call to the member, and answers the first one with {@code status}
   * after the member has applied it: a write whose outcome the client does not learn.
   */
  private GrpcProxy appliesFirstThenFails(Status status) throws IOException {
    GrpcProxy[] self = new GrpcProxy[1];
    GrpcProxy proxy =
        proxy(
            (n, body) -> {
              byte[] applied = self[0].forward(body);
              if (n == 1) {
                throw status.asException();
              }
              return applied;
            });
    self[0] = proxy;
    return proxy;
  }

  private GrpcProxy proxy(GrpcProxy.TxnRule rule) throws IOException {
    GrpcProxy proxy = new GrpcProxy(etcd.endpoint(0), rule);
    closeables.add(proxy);
    return proxy;
  }

  private EtcdConfigStore store(String prefix, String name, @Nullable GrpcProxy proxy) {
    List<URI> endpoints = proxy == null ? etcd.endpoints() : List.of(proxy.endpoint());
    EtcdConfigStore store =
        EtcdConfigStore.builder()
            .endpoints(endpoints)
            .prefix(prefix)
            .replicaName(name)
            .requestTimeout(Duration.ofSeconds(5))
            .unavailableAfter(Duration.ofSeconds(10))
            .build();
    closeables.add(store);
    return store;
  }

  @Test
  void aPublishEtcdAppliedBeforeAnsweringLeaderChangedIsASuccessNotAConflictWithItself()
      throws Exception {
    // The member applies the transaction, then answers as etcd does when its leader changed
    // meanwhile; the client sends the same transaction again, and its compare fails on the write
    // the first copy made.
    GrpcProxy proxy =
        appliesFirstThenFails(Status.UNAVAILABLE.withDescription("etcdserver: leader changed"));
    String prefix = "/outcome/leader-changed/";
    EtcdConfigStore a = store(prefix, "a", proxy);
    assertThat(a.load()).isEmpty();

    long revision = a.save(TestFrames.reconfigure(FIRST), FIRST, null);

    List<EtcdCluster.Version> inEtcd = etcd.history(prefix + "config-hash");
    assertThat(inEtcd).hasSize(1);
    assertThat(inEtcd.get(0).text()).isEqualTo(FIRST);
    assertThat(revision).isEqualTo(inEtcd.get(0).revision());
    // The replica knows it wrote FIRST: its next publish expects it and goes through.
    long next = a.save(TestFrames.reconfigure(OTHER), OTHER, FIRST);
    assertThat(next).isGreaterThan(revision);
    assertThat(etcd.history(prefix + "config-hash").get(0).text()).isEqualTo(OTHER);
  }

  /**
   * grpc at times reports a connection that closed under a call as {@code UNKNOWN: channel closed}
   * rather than {@code UNAVAILABLE} (seen when an etcd member died under a publish). That is a
   * transport failure like any other: a write it cut off may have been applied, so its outcome is
   * found out, never reported as a failure.
   */
  @Test
  void aWriteWhoseConnectionClosedUnderItIsFoundOutNotFailed() throws Exception {
    GrpcProxy proxy = appliesFirstThenFails(Status.UNKNOWN.withDescription("channel closed"));
    String prefix = "/outcome/channel-closed/";
    EtcdConfigStore a = store(prefix, "a", proxy);
    assertThat(a.load()).isEmpty();

    long revision = a.save(TestFrames.reconfigure(FIRST), FIRST, null);

    List<EtcdCluster.Version> inEtcd = etcd.history(prefix + "config-hash");
    assertThat(inEtcd).extracting(EtcdCluster.Version::text).containsExactly(FIRST);
    assertThat(revision).isEqualTo(inEtcd.get(0).revision());
  }

  @Test
  void aPublishAppliedLateAndOverwrittenBeforeItsRetryIsASuccessNotAConflict() throws Exception {
    String prefix = "/outcome/overwritten/";
    EtcdConfigStore b = store(prefix, "b", null);
    byte[][] held = new byte[1][];
    // 1st copy: taken, no answer (the member dies before answering; its log keeps the write).
    // 2nd copy: before it arrives, the held first copy commits and replica b publishes on top.
    GrpcProxy[] self = new GrpcProxy[1];
    GrpcProxy proxy =
        proxy(
            (n, body) -> {
              if (n == 1) {
                held[0] = body;
                // The connection to the member breaks after the request went out: no answer.
                throw Status.UNAVAILABLE.withDescription("connection reset").asException();
              }
              if (n == 2) {
                byte[] late = self[0].forward(held[0]);
                assertThat(TxnResponse.parseFrom(late).getSucceeded()).isTrue();
                b.load();
                b.save(TestFrames.reconfigure(OTHER), OTHER, FIRST);
              }
              return self[0].forward(body);
            });
    self[0] = proxy;
    EtcdConfigStore a = store(prefix, "a", proxy);
    assertThat(a.load()).isEmpty();

    long revision = a.save(TestFrames.reconfigure(FIRST), FIRST, null);

    List<EtcdCluster.Version> inEtcd = etcd.history(prefix + "config-hash");
    assertThat(inEtcd).extracting(EtcdCluster.Version::text).containsExactly(OTHER, FIRST);
    assertThat(revision).isEqualTo(inEtcd.get(1).revision());
    // What a publish really conflicting with b's answers is still a conflict.
    assertThatThrownBy(
            () -> a.save(TestFrames.reconfigure("33333333333333333333333333333333"), "3333", FIRST))
        .isInstanceOf(ConfigConflictException.class);
  }

  @Test
  void unavailableAfterNotAboveRequestTimeoutIsRefusedAtBuild() {
    EtcdConfigStore.Builder b =
        EtcdConfigStore.builder().endpoints(etcd.endpoints()).requestTimeout(Duration.ofSeconds(5));
    assertThatThrownBy(b::build) // unavailableAfter's default, 5 s, is not above 5 s
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("unavailableAfter (PT5S) must be longer than requestTimeout (PT5S)")
        .hasMessageContaining("raise unavailableAfter or lower requestTimeout");
    b.unavailableAfter(Duration.ofSeconds(6));
    b.build().close();
    // The defaults (2 s, 5 s) satisfy the rule.
    EtcdConfigStore.builder().endpoints(etcd.endpoints()).build().close();
  }
}
