package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.testkit.FaultProxy;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A replica's first read of etcd (its start): etcd counts as unreachable only once it has not
 * answered for {@code unavailableAfter}, not after one request timeout, so that a replica restarted
 * on a busy machine (its first TLS connections slow) does not exit; and it still exits, naming how
 * long it waited, when etcd stays silent.
 */
class StartupReadTest {
  @AutoClose private static EtcdCluster etcd;

  @AutoClose private FaultProxy proxy;

  @AutoClose private EtcdConfigStore store;

  @BeforeAll
  static void startEtcd() throws IOException {
    EtcdCluster.requireEtcd();
    etcd = EtcdCluster.start(1);
  }

  private EtcdConfigStore storeThroughProxy() {
    proxy = FaultProxy.start("127.0.0.1", etcd.endpoint(0).getPort());
    proxy.blackhole();
    store =
        EtcdConfigStore.builder()
            .endpoints(List.of(URI.create("http://127.0.0.1:" + proxy.port())))
            .prefix("/startup/")
            .replicaName("r")
            .requestTimeout(Duration.ofMillis(400))
            .unavailableAfter(Duration.ofSeconds(3))
            .build();
    return store;
  }

  @Test
  void etcdSilentForLessThanUnavailableAfterIsWaitedFor() throws Exception {
    EtcdConfigStore s = storeThroughProxy();
    Thread healer =
        new Thread(
            () -> {
              try {
                Thread.sleep(1_200); // three request timeouts of silence
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              proxy.heal();
            });
    healer.start();
    long start = System.nanoTime();
    assertThat(s.load()).isEmpty(); // etcd answered: nothing published under this prefix yet
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThan(1_000);
    healer.join();
  }

  @Test
  void etcdSilentForUnavailableAfterIsRefusedNamingHowLong() {
    EtcdConfigStore s = storeThroughProxy();
    long start = System.nanoTime();
    assertThatThrownBy(s::load)
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("cannot read the configuration from etcd")
        .hasMessageContaining("(no answer for ")
        .hasMessageContaining("no etcd member answered within 400 ms");
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThan(2_900);
  }
}
