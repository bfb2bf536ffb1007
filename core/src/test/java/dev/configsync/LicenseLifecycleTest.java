package dev.configsync;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.TestLicenseSigner;
import java.net.URI;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Licensing, driven by a hand-moved clock: the wall clock follows the {@link ManualScheduler}, so
 * days of license life pass in microseconds.
 */
class LicenseLifecycleTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Instant START = Instant.parse("2024-06-01T12:00:00Z");
  private static final Duration WARNING = Duration.ofDays(3);
  // Expires at 2024-06-11T00:00Z: the end of its last day, UTC.
  private static final LocalDate LAST_DAY = LocalDate.parse("2024-06-10");
  private static final Instant EXPIRES_AT = Instant.parse("2024-06-11T00:00:00Z");

  private final ManualScheduler scheduler = new ManualScheduler();
  private final long startNanos = scheduler.nanoTime();
  private final Clock clock = new SchedulerClock();
  private final FakeTransport transport = new FakeTransport();
  private final InMemoryStore store = new InMemoryStore(UUID.randomUUID());
  private final List<SyncEvent> events = new CopyOnWriteArrayList<>();
  private final List<ConfigSyncClient> clients = new ArrayList<>();
  private final KeyPair vendor = TestLicenseSigner.generateKeyPair();
  private final TestLicenseSigner signer = new TestLicenseSigner(vendor.getPrivate());

  /** Wall time = START + however far the scheduler has been advanced. */
  private final class SchedulerClock extends Clock {
    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return START.plusNanos(scheduler.nanoTime() - startNanos);
    }
  }

  @AfterEach
  void close() {
    clients.forEach(ConfigSyncClient::close);
  }

  private ConfigSyncClient start() {
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.example.com:8005"))
            .transport(transport)
            .snapshotStore(store)
            .scheduler(scheduler)
            .clock(clock)
            .listenerExecutor(Runnable::run)
            .licenseKey(vendor.getPublic())
            .licenseWarning(WARNING)
            .onEvent(events::add)
            .build();
    clients.add(client);
    client.start();
    return client;
  }

  private static ObjectNode table(String service) {
    ObjectNode t = MAPPER.createObjectNode();
    t.putArray("services").addObject().put("name", service);
    return t;
  }

  private JsonNode licensed(String service, TestLicenseSigner by, LocalDate lastDay) {
    JsonNode license =
        by.sign(
            new License("Example Co", "KEY-0001-ABCD-9999", "Enterprise", 5, START_DAY, lastDay));
    return TestLicenseSigner.withLicense(table(service), license);
  }

  private static final LocalDate START_DAY = LocalDate.parse("2024-06-01");

  private FakeConnection connected() {
    FakeConnection c = transport.last();
    c.open();
    return c;
  }

  private void awaitHash(ConfigSyncClient client, JsonNode table) {
    String hash = ConfigHash.configHash(table);
    eventually().until(() -> hash.equals(client.status().hash()));
  }

  private <T extends SyncEvent> List<T> events(Class<T> type) {
    return events.stream().filter(type::isInstance).map(type::cast).toList();
  }

  private static ConditionFactory eventually() {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(1));
  }

  @Test
  void configurationWithoutLicenseIsRefusedWhenLicensingIsOn() {
    ConfigSyncClient client = start();
    FakeConnection c = connected();
    JsonNode good = licensed("a", signer, LAST_DAY);
    c.deliver(HybridProtocol.reconfigure(good, 1.0));
    awaitHash(client, good);

    c.deliver(HybridProtocol.reconfigure(table("unlicensed"), 2.0));

    eventually().until(() -> !events(SyncEvent.SnapshotRejected.class).isEmpty());
    SyncEvent.SnapshotRejected rejected = events(SyncEvent.SnapshotRejected.class).get(0);
    assertThat(rejected.reason()).isEqualTo(ConfigRejectedException.Reason.LICENSE);
    assertThat(client.status().hash()).isEqualTo(ConfigHash.configHash(good));
    assertThat(client.isServing()).isTrue();
  }

  @Test
  void licenseSignedByAnotherKeyIsRefused() {
    ConfigSyncClient client = start();
    FakeConnection c = connected();
    TestLicenseSigner forger =
        new TestLicenseSigner(TestLicenseSigner.generateKeyPair().getPrivate());

    c.deliver(HybridProtocol.reconfigure(licensed("forged", forger, LAST_DAY), 1.0));

    eventually().until(() -> !events(SyncEvent.SnapshotRejected.class).isEmpty());
    assertThat(events(SyncEvent.SnapshotRejected.class).get(0).message()).contains("signature");
    assertThat(client.current()).isEmpty();
  }

  @Test
  void warnsBeforeExpiryThenStopsServingAtExpiry() {
    ConfigSyncClient client = start();
    FakeConnection c = connected();
    JsonNode config = licensed("a", signer, LAST_DAY);
    c.deliver(HybridProtocol.reconfigure(config, 1.0));
    awaitHash(client, config);
    assertThat(client.status().licenseState()).isEqualTo(LicenseState.VALID);
    assertThat(client.status().licenseExpiresAt()).isEqualTo(EXPIRES_AT);
    assertThat(client.current().orElseThrow().license().orElseThrow().customer())
        .isEqualTo("Example Co");

    Duration untilWarning = Duration.between(START, EXPIRES_AT.minus(WARNING));
    keepAliveAndAdvance(c, untilWarning.minusMillis(1));
    assertThat(events(SyncEvent.LicenseExpiring.class)).isEmpty();
    keepAliveAndAdvance(c, Duration.ofMillis(1));
    assertThat(events(SyncEvent.LicenseExpiring.class))
        .singleElement()
        .extracting(SyncEvent.LicenseExpiring::expiresAt)
        .isEqualTo(EXPIRES_AT);
    assertThat(client.status().licenseState()).isEqualTo(LicenseState.EXPIRING);
    assertThat(client.isServing()).isTrue();

    keepAliveAndAdvance(c, WARNING.minusMillis(1));
    assertThat(client.isServing()).isTrue();
    keepAliveAndAdvance(c, Duration.ofMillis(1));

    assertThat(events(SyncEvent.LicenseExpired.class)).hasSize(1);
    assertThat(client.isServing()).isFalse();
    assertThat(client.status().licenseState()).isEqualTo(LicenseState.EXPIRED);
    // The configuration itself stays; only serving stops.
    assertThat(client.status().hash()).isEqualTo(ConfigHash.configHash(config));
    assertThat(events(SyncEvent.LicenseExpiring.class)).hasSize(1);
  }

  @Test
  void renewedLicenseRestoresService() {
    ConfigSyncClient client = start();
    FakeConnection c = connected();
    c.deliver(HybridProtocol.reconfigure(licensed("a", signer, LAST_DAY), 1.0));
    eventually().until(() -> client.status().hasConfiguration());
    keepAliveAndAdvance(c, Duration.between(START, EXPIRES_AT));
    assertThat(client.isServing()).isFalse();

    JsonNode renewed = licensed("a", signer, LAST_DAY.plusYears(1));
    c.deliver(HybridProtocol.reconfigure(renewed, 2.0));
    awaitHash(client, renewed);
    // Status is refreshed just before the events go out: wait for the event, not only the hash.
    eventually().until(() -> !events(SyncEvent.LicenseRenewed.class).isEmpty());

    assertThat(client.isServing()).isTrue();
    assertThat(client.status().licenseState()).isEqualTo(LicenseState.VALID);
    assertThat(events(SyncEvent.LicenseRenewed.class)).hasSize(1);
  }

  @Test
  void expiredLicenseInTheCacheKeepsTheNodeStoppedAfterARestart() {
    ConfigSyncClient first = start();
    FakeConnection c = connected();
    JsonNode config = licensed("a", signer, LAST_DAY);
    c.deliver(HybridProtocol.reconfigure(config, 1.0));
    awaitHash(first, config);
    first.close();
    scheduler.advance(Duration.between(START, EXPIRES_AT).plusHours(1));
    events.clear();

    ConfigSyncClient second = start(); // no connection: the control plane is away

    assertThat(second.status().hash()).isEqualTo(ConfigHash.configHash(config));
    assertThat(second.status().source()).isEqualTo(SnapshotSource.CACHE);
    assertThat(second.isServing()).isFalse();
    assertThat(events(SyncEvent.LicenseExpired.class)).hasSize(1);
  }

  @Test
  void controlPlaneConfirmingAManualLoadKeepsItsLicenseAndCachesTheControlPlaneBytes(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    ConfigSyncClient client = start();
    JsonNode config = licensed("a", signer, LAST_DAY);
    java.nio.file.Path file =
        java.nio.file.Files.writeString(dir.resolve("manual.json"), config.toString());
    client.loadManual(file); // still connecting: allowed
    assertThat(client.status().source()).isEqualTo(SnapshotSource.MANUAL);

    FakeConnection c = connected();
    byte[] pushed = HybridProtocol.reconfigure(config, 5.0);
    c.deliver(pushed);

    eventually().until(() -> client.status().source() == SnapshotSource.CONTROL_PLANE);
    assertThat(client.current().orElseThrow().license()).isPresent();
    assertThat(client.status().licenseState()).isEqualTo(LicenseState.VALID);
    eventually().until(() -> java.util.Arrays.equals(store.bytes(), pushed));
    assertThat(events(SyncEvent.SnapshotApplied.class)).hasSize(1); // the manual load only
  }

  /**
   * With a clock that moves on every reading, the events still come in time order: the license
   * events of a configuration come just before its SnapshotApplied, with the same time (the license
   * event used to be stamped before the apply and delivered after it).
   */
  @Test
  void licenseEventsOfAConfigurationComeInTimeOrderJustBeforeItsApply() {
    java.util.concurrent.atomic.AtomicLong ticks = new java.util.concurrent.atomic.AtomicLong();
    Clock ticking =
        new Clock() {
          @Override
          public ZoneId getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(ZoneId zone) {
            return this;
          }

          @Override
          public Instant instant() {
            return clock.instant().plusMillis(ticks.incrementAndGet());
          }
        };
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.example.com:8005"))
            .transport(transport)
            .snapshotStore(store)
            .scheduler(scheduler)
            .clock(ticking)
            .listenerExecutor(Runnable::run)
            .licenseKey(vendor.getPublic())
            .licenseWarning(Duration.ofDays(30)) // LAST_DAY is 10 days ahead: expiring
            .onEvent(events::add)
            .build();
    clients.add(client);
    client.start();
    FakeConnection c = connected();
    JsonNode config = licensed("a", signer, LAST_DAY);
    c.deliver(HybridProtocol.reconfigure(config, 1.0));
    eventually().until(() -> !events(SyncEvent.SnapshotApplied.class).isEmpty());

    List<SyncEvent> delivered = List.copyOf(events);
    for (int i = 1; i < delivered.size(); i++) {
      assertThat(delivered.get(i).time())
          .as("%s after %s", delivered.get(i), delivered.get(i - 1))
          .isAfterOrEqualTo(delivered.get(i - 1).time());
    }
    SyncEvent.LicenseExpiring expiring = events(SyncEvent.LicenseExpiring.class).get(0);
    SyncEvent.SnapshotApplied applied = events(SyncEvent.SnapshotApplied.class).get(0);
    assertThat(delivered.indexOf(expiring)).isEqualTo(delivered.indexOf(applied) - 1);
    assertThat(expiring.time()).isEqualTo(applied.time());
  }

  /**
   * Restarted on a cache whose license has expired, the client does not serve, keeps connecting,
   * takes the renewed license the control plane sends, and serves again.
   */
  @Test
  void restartedOnAnExpiredCacheTheClientConnectsAndARenewedLicenseRestoresService() {
    ConfigSyncClient first = start();
    FakeConnection c = connected();
    JsonNode config = licensed("a", signer, LAST_DAY);
    c.deliver(HybridProtocol.reconfigure(config, 1.0));
    awaitHash(first, config);
    first.close();
    scheduler.advance(Duration.between(START, EXPIRES_AT).plusHours(1));
    events.clear();

    ConfigSyncClient second = start();
    assertThat(second.isServing()).isFalse();
    FakeConnection again = connected();
    JsonNode renewed = licensed("a", signer, LAST_DAY.plusYears(1));
    again.deliver(HybridProtocol.reconfigure(renewed, 2.0));
    awaitHash(second, renewed);
    eventually().until(() -> !events(SyncEvent.LicenseRenewed.class).isEmpty());

    assertThat(second.isServing()).isTrue();
    assertThat(second.status().licenseState()).isEqualTo(LicenseState.VALID);
    assertThat(second.status().source()).isEqualTo(SnapshotSource.CONTROL_PLANE);
  }

  /** Advances time in heartbeat-sized steps, answering pings so the connection stays up. */
  private void keepAliveAndAdvance(FakeConnection c, Duration total) {
    Duration step = Duration.ofSeconds(20);
    Duration left = total;
    while (left.compareTo(step) > 0) {
      scheduler.advance(step);
      c.pong();
      left = left.minus(step);
    }
    scheduler.advance(left);
  }
}
