package dev.configsync.okhttp;

import static dev.configsync.okhttp.TestPki.ca;
import static dev.configsync.okhttp.TestPki.leafEc;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;

/** The transport's pool of writer threads. */
class WriterThreadsTest {
  /** {@code ConfigSyncClient.Builder.heartbeatInterval}'s documented default. */
  private static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(30);

  @Test
  void anIdleWriterOutlivesTheDefaultHeartbeatSoThatPingsReuseIt() {
    HeldCertificate ca = ca("ca");
    HeldCertificate dp = leafEc("dp", ca);
    try (OkHttpTransport transport =
        OkHttpTransport.create(
            TlsConfig.pkiFromPem(
                dp.certificatePem(), dp.privateKeyPkcs8Pem(), ca.certificatePem()))) {
      // At a keep-alive equal to the heartbeat (as it was: 30 s), the writer of a node that only
      // pings expired just as the next ping came, and each heartbeat started a thread.
      assertThat(transport.writerKeepAlive())
          .isEqualTo(OkHttpTransport.WRITER_KEEP_ALIVE)
          .isGreaterThanOrEqualTo(DEFAULT_HEARTBEAT.multipliedBy(2));
    }
  }
}
