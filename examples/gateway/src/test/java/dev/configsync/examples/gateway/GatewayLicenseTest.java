package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.License;
import dev.configsync.LicenseState;
import dev.configsync.examples.gateway.GatewayTestBed.Upstream;
import dev.configsync.license.LicenseSigner;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The gateway stops serving, with a clear answer, when its license expires. */
@Timeout(60)
class GatewayLicenseTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final LocalDate EXPIRES_ON = LocalDate.of(2031, 3, 14);

  @TempDir Path dir;
  private GatewayTestBed bed;

  @BeforeEach
  void setUp() {
    bed = new GatewayTestBed(dir);
    Awaitility.setDefaultTimeout(Duration.ofSeconds(20));
  }

  @AfterEach
  void tearDown() throws Exception {
    Awaitility.reset();
    bed.close();
  }

  /** A wall clock the test sets by hand. */
  static final class HandClock extends Clock {
    private volatile Instant now;

    HandClock(Instant now) {
      this.now = now;
    }

    void set(Instant instant) {
      now = instant;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private static String licensed(String config, LicenseSigner signer, LocalDate expiresOn)
      throws Exception {
    License terms =
        new License(
            "Example Co", "K-GATEWAY-1", "Enterprise", 5, EXPIRES_ON.minusYears(1), expiresOn);
    return JSON.writeValueAsString(
        LicenseSigner.withLicense(JSON.readTree(config), signer.sign(terms)));
  }

  @Test
  void answers503WithAClearBodyOnceTheLicenseHasExpiredAndServesAgainWhenRenewed()
      throws Exception {
    Upstream one = bed.upstream("upstream-1");
    KeyPair keys = LicenseSigner.generateKeyPair();
    LicenseSigner signer = new LicenseSigner(keys.getPrivate());
    Instant expiresAt = EXPIRES_ON.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    // Two seconds before the expiry, by the gateway's clock.
    HandClock clock = new HandClock(expiresAt.minusSeconds(2));
    bed.startControlPlane();
    String hash =
        bed.cp().publish(licensed(GatewayIntegrationTest.configA(one), signer, EXPIRES_ON)).hash();
    Gateway gateway =
        bed.startGateway(
            "dp-cache", c -> c.licenseKey(keys.getPublic()).clock(clock), UsageRecorder.none());
    await().until(() -> gateway.routingTable().isPresent());
    assertThat(bed.get(gateway, "/a").statusCode()).isEqualTo(200);
    GatewayTestBed.Upstream.Received lastProxied = one.last.get();
    assertThat(lastProxied).isNotNull();

    clock.set(expiresAt.plusSeconds(1));
    await().until(() -> !gateway.client().isServing());
    assertThat(gateway.client().status().licenseState()).isEqualTo(LicenseState.EXPIRED);

    HttpResponse<String> refused = bed.get(gateway, "/a");
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.headers().firstValue("Content-Type"))
        .hasValue("application/json; charset=utf-8");
    assertThat(refused.body())
        .isEqualTo(
            "{\"message\":\"license expired at "
                + expiresAt
                + ": this gateway does not serve traffic until the control plane sends a"
                + " configuration with a renewed license\"}");
    assertThat(refused.headers().firstValue(ProxyHandler.HASH_HEADER)).hasValue(hash);
    assertThat(one.last.get()).as("nothing proxied while expired").isSameAs(lastProxied);

    // The control plane sends a renewed license: the gateway serves again.
    bed.cp()
        .publish(licensed(GatewayIntegrationTest.configA(one), signer, EXPIRES_ON.plusYears(1)));
    await().until(() -> bed.get(gateway, "/a").statusCode() == 200);
    assertThat(gateway.client().status().licenseState()).isEqualTo(LicenseState.VALID);
  }

  /**
   * The embedded client restarted on a cache whose license has expired: it does not serve, keeps
   * connecting, and serves again when the control plane sends a renewed license (real TLS, real
   * control plane, restarted meanwhile).
   */
  @Test
  void restartedOnAnExpiredCacheItKeepsConnectingAndServesWhenARenewedLicenseArrives()
      throws Exception {
    Upstream one = bed.upstream("upstream-1");
    KeyPair keys = LicenseSigner.generateKeyPair();
    LicenseSigner signer = new LicenseSigner(keys.getPrivate());
    Instant expiresAt = EXPIRES_ON.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    HandClock clock = new HandClock(expiresAt.minusSeconds(60));
    bed.startControlPlane();
    bed.cp().publish(licensed(GatewayIntegrationTest.configA(one), signer, EXPIRES_ON));
    Gateway first =
        bed.startGateway(
            "dp-cache", c -> c.licenseKey(keys.getPublic()).clock(clock), UsageRecorder.none());
    await().until(() -> first.routingTable().isPresent());
    first.close();
    bed.stopControlPlane();

    clock.set(expiresAt.plusSeconds(1));
    Gateway again =
        bed.startGateway(
            "dp-cache", c -> c.licenseKey(keys.getPublic()).clock(clock), UsageRecorder.none());
    assertThat(again.client().isServing()).isFalse();
    assertThat(bed.get(again, "/a").statusCode()).isEqualTo(503);

    bed.startControlPlane(); // same port and store: still the expired configuration
    bed.cp()
        .publish(licensed(GatewayIntegrationTest.configA(one), signer, EXPIRES_ON.plusYears(1)));
    await().until(() -> bed.get(again, "/a").statusCode() == 200);
    assertThat(again.client().status().licenseState()).isEqualTo(LicenseState.VALID);
    assertThat(again.client().status().connectAttempts()).isGreaterThan(1);
  }
}
