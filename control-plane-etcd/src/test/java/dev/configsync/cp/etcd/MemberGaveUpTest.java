package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

/**
 * A member that lets a call's deadline run out on its side answers {@code UNKNOWN: context deadline
 * exceeded}. That is no answer (the write may still commit), not a refusal: taken as a refusal, it
 * reset the replica's "unreachable since" to the moment of the timeout, and a write that met it
 * could have been reported as not published (seen in {@code HighAvailabilityTest} on a loaded
 * machine).
 */
class MemberGaveUpTest {
  @Test
  void theMembersOwnDeadlineIsNoAnswer() {
    assertThat(EtcdClient.memberGaveUp(Status.UNKNOWN.withDescription("context deadline exceeded")))
        .isTrue();
    assertThat(
            EtcdClient.memberGaveUp(
                Status.DEADLINE_EXCEEDED.withDescription("context deadline exceeded")))
        .isTrue();
  }

  @Test
  void refusalsAndTheClientsOwnTimeoutAreNot() {
    assertThat(
            EtcdClient.memberGaveUp(Status.UNKNOWN.withDescription("etcdserver: lease not found")))
        .isFalse();
    assertThat(
            EtcdClient.memberGaveUp(
                Status.FAILED_PRECONDITION.withDescription(
                    "etcdserver: requested lease not found")))
        .isFalse();
    assertThat(
            EtcdClient.memberGaveUp(
                Status.DEADLINE_EXCEEDED.withDescription(
                    "CallOptions deadline exceeded after 2.999934969s")))
        .isFalse();
  }
}
