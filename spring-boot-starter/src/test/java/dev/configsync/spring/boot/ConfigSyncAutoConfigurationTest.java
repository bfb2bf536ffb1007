package dev.configsync.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.License;
import dev.configsync.LicenseState;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.license.LicenseSigner;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.Transport;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.event.EventListener;

/**
 * The auto-configuration in real application contexts, against a real control plane over mutual TLS
 * on 127.0.0.1.
 */
class ConfigSyncAutoConfigurationTest {
  static TestPki pki;
  static Path tls;

  TestControlPlane cp;
  @TempDir Path temp;

  @BeforeAll
  static void pki() throws Exception {
    pki = TestPki.create();
    tls = pki.writeDataPlaneFiles(Files.createTempDirectory("configsync-spring-tls"));
    Files.setPosixFilePermissions(
        tls.resolve("dp.key"), PosixFilePermissions.fromString("rw-------"));
  }

  @BeforeEach
  void controlPlane() {
    cp = TestControlPlane.start(pki);
  }

  @AfterEach
  void stop() {
    cp.close();
  }

  ApplicationContextRunner runner() {
    return new ApplicationContextRunner()
        .withConfiguration(
            AutoConfigurations.of(
                ConfigSyncAutoConfiguration.class, ConfigSyncActuatorAutoConfiguration.class))
        .withPropertyValues(
            "configsync.control-plane=" + cp.uri(),
            "configsync.tls.cert=" + tls.resolve("dp.crt"),
            "configsync.tls.key=" + tls.resolve("dp.key"),
            "configsync.tls.ca=" + tls.resolve("ca.crt"),
            "configsync.heartbeat-interval=1s",
            "configsync.reconnect.min-delay=50ms",
            "configsync.reconnect.max-delay=200ms",
            "configsync.usage.enabled=false");
  }

  /** Collects what the client publishes as application events, in the order received. */
  static class Recorder {
    final List<Object> received = new ArrayList<>();

    @EventListener
    public synchronized void snapshot(ConfigSnapshot snapshot) {
      received.add(snapshot);
    }

    @EventListener
    public synchronized void event(SyncEvent event) {
      received.add(event);
    }

    synchronized List<Object> all() {
      return List.copyOf(received);
    }

    synchronized List<SyncEvent> events() {
      return received.stream()
          .filter(SyncEvent.class::isInstance)
          .map(SyncEvent.class::cast)
          .toList();
    }

    synchronized List<String> snapshotHashes() {
      return received.stream()
          .filter(ConfigSnapshot.class::isInstance)
          .map(o -> ((ConfigSnapshot) o).hash())
          .toList();
    }
  }

  @Test
  void clientFollowsTheContextAndPublishesItsSnapshotsAndEventsInOrder() {
    String first = cp.publish("{\"services\":[{\"name\":\"one\"}]}");
    List<SyncEvent> direct = new ArrayList<>();
    AtomicReference<ConfigSyncClient> clientRef = new AtomicReference<>();
    runner()
        .withBean(Recorder.class)
        .withBean(
            ConfigSyncClientCustomizer.class,
            () ->
                b ->
                    b.onEvent(
                        e -> {
                          synchronized (direct) {
                            direct.add(e);
                          }
                        }))
        .run(
            context -> {
              assertThat(context).hasNotFailed().hasSingleBean(ConfigSyncClient.class);
              // No Jackson 2 ObjectMapper bean is needed: the client keeps its own.
              assertThat(context).doesNotHaveBean(ObjectMapper.class);
              ConfigSyncClient client = context.getBean(ConfigSyncClient.class);
              clientRef.set(client);
              assertThat(client.status().state()).isNotEqualTo(SyncState.NEW);
              Recorder recorder = context.getBean(Recorder.class);
              await().until(() -> recorder.snapshotHashes().contains(first));

              String second = cp.publish("{\"services\":[{\"name\":\"two\"}]}");
              await().until(() -> recorder.snapshotHashes().equals(List.of(first, second)));
              assertThat(
                      client
                          .current()
                          .orElseThrow()
                          .config()
                          .get("services")
                          .get(0)
                          .get("name")
                          .asText())
                  .isEqualTo("two");

              // The application events come in the order the client delivered them.
              await()
                  .until(
                      () -> {
                        synchronized (direct) {
                          return recorder.events().equals(direct);
                        }
                      });
              List<Object> all = recorder.all();
              int connected = indexOf(all, SyncEvent.Connected.class);
              int appliedFirst = indexOfApplied(all, first);
              int appliedSecond = indexOfApplied(all, second);
              assertThat(indexOf(all, SyncEvent.Connecting.class)).isLessThan(connected);
              assertThat(connected).isLessThan(appliedFirst);
              assertThat(appliedFirst).isLessThan(appliedSecond);

              Health health = context.getBean(ConfigSyncHealthIndicator.class).health();
              assertThat(health.getStatus()).isEqualTo(Status.UP);
              assertThat(health.getDetails())
                  .containsEntry("state", "CONNECTED")
                  .containsEntry("hash", second)
                  .containsEntry("source", "CONTROL_PLANE")
                  .containsKey("lastContact");

              Info.Builder info = new Info.Builder();
              context.getBean(ConfigSyncInfoContributor.class).contribute(info);
              @SuppressWarnings("unchecked")
              Map<String, Object> details =
                  (Map<String, Object>) info.build().getDetails().get("configsync");
              assertThat(details).containsEntry("hash", second).containsKey("nodeId");
            });
    // Closing the context closed the client.
    assertThat(clientRef.get().status().state()).isEqualTo(SyncState.CLOSED);
  }

  private static int indexOf(List<Object> all, Class<?> type) {
    for (int i = 0; i < all.size(); i++) {
      if (type.isInstance(all.get(i))) {
        return i;
      }
    }
    throw new AssertionError("no " + type.getSimpleName() + " in " + all);
  }

  private static int indexOfApplied(List<Object> all, String hash) {
    for (int i = 0; i < all.size(); i++) {
      if (all.get(i) instanceof SyncEvent.SnapshotApplied a && a.hash().equals(hash)) {
        return i;
      }
    }
    throw new AssertionError("no SnapshotApplied " + hash + " in " + all);
  }

  @Test
  void aRestartedContextServesItsCacheAtOnceWhileTheControlPlaneIsDown() {
    String hash = cp.publish("{\"services\":[{\"name\":\"cached\"}]}");
    String cache = "configsync.cache.directory=" + temp.resolve("cache");
    runner()
        .withPropertyValues(cache)
        .run(
            context -> {
              ConfigSyncClient client = context.getBean(ConfigSyncClient.class);
              await().until(() -> hash.equals(client.status().hash()));
              await().until(() -> client.status().lastCacheWrite() != null);
            });
    cp.stop();
    runner()
        .withPropertyValues(cache)
        .run(
            context -> {
              // Started with the context: the cached configuration runs without waiting.
              ConfigSyncClient client = context.getBean(ConfigSyncClient.class);
              ConfigSnapshot running = client.current().orElseThrow();
              assertThat(running.hash()).isEqualTo(hash);
              assertThat(running.source()).isEqualTo(SnapshotSource.CACHE);
              Health health = context.getBean(ConfigSyncHealthIndicator.class).health();
              assertThat(health.getStatus()).isEqualTo(Status.UP);
              assertThat(health.getDetails()).containsEntry("source", "CACHE");
              assertThat(health.getDetails().get("state")).isNotEqualTo("CONNECTED");
            });
  }

  @Test
  void healthIsDownWhileNothingIsServed() {
    // Connected, but the control plane has no configuration to send.
    runner()
        .run(
            context -> {
              ConfigSyncClient client = context.getBean(ConfigSyncClient.class);
              await().until(() -> client.status().state() == SyncState.CONNECTED);
              Health health = context.getBean(ConfigSyncHealthIndicator.class).health();
              assertThat(health.getStatus()).isEqualTo(Status.DOWN);
              assertThat(health.getDetails())
                  .containsEntry("state", "CONNECTED")
                  .doesNotContainKey("hash");
            });
  }

  @Test
  void healthIsOutOfServiceOnceTheLicenseHasExpired() throws Exception {
    KeyPair keys = LicenseSigner.generateKeyPair();
    LicenseSigner signer = new LicenseSigner(keys.getPrivate());
    LocalDate lastDay = LocalDate.of(2030, 1, 31);
    ObjectMapper json = new ObjectMapper();
    String licensed =
        json.writeValueAsString(
            LicenseSigner.withLicense(
                json.readTree("{\"services\":[]}"),
                signer.sign(
                    new License(
                        "Example", "K-1", "Enterprise", 5, lastDay.minusYears(1), lastDay))));
    cp.publish(licensed);
    Instant expiry = lastDay.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    // Two seconds before the expiry by the client's clock: the client's expiry timer fires then.
    HandClock clock = new HandClock(expiry.minusSeconds(2));
    Path keyFile = temp.resolve("license.pem");
    Files.writeString(
        keyFile, LicenseSigner.publicKeyPem(keys.getPublic()), StandardCharsets.US_ASCII);
    runner()
        .withPropertyValues("configsync.license.public-key-file=" + keyFile)
        .withBean(ConfigSyncClientCustomizer.class, () -> b -> b.clock(clock))
        .run(
            context -> {
              ConfigSyncClient client = context.getBean(ConfigSyncClient.class);
              ConfigSyncHealthIndicator health = context.getBean(ConfigSyncHealthIndicator.class);
              await().until(() -> health.health().getStatus().equals(Status.UP));
              clock.now = expiry.plusSeconds(2);
              await().until(() -> client.status().licenseState() == LicenseState.EXPIRED);
              await().until(() -> health.health().getStatus().equals(Status.OUT_OF_SERVICE));
              assertThat(health.health().getDetails())
                  .containsEntry("license", "EXPIRED")
                  .containsEntry("licenseExpiresAt", expiry.toString());
            });
  }

  static final class HandClock extends Clock {
    volatile Instant now;

    HandClock(Instant now) {
      this.now = now;
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

  @Test
  void metricsAreBoundToTheApplicationsMeterRegistry() {
    cp.publish("{\"services\":[]}");
    runner()
        .withBean(MeterRegistry.class, SimpleMeterRegistry::new)
        .run(
            context -> {
              ConfigSyncClient client = context.getBean(ConfigSyncClient.class);
              await().until(() -> client.current().isPresent());
              MeterRegistry registry = context.getBean(MeterRegistry.class);
              assertThat(registry.find("configsync.connection.state").meters()).isNotEmpty();
            });
  }

  @Test
  void theApplicationsOwnClientTransportAndValidatorWin() {
    String good = cp.publish("{\"services\":[{\"name\":\"good\"}]}");
    AtomicInteger connects = new AtomicInteger();
    Transport real = OkHttpTransport.create(pki.dataPlaneTls());
    Transport counting =
        new Transport() {
          @Override
          public Connection connect(ConnectRequest request, Listener listener) {
            connects.incrementAndGet();
            return real.connect(request, listener);
          }

          @Override
          public void close() {
            real.close();
          }
        };
    ConfigValidator refuseBad =
        snapshot -> {
          if (snapshot.config().toString().contains("bad")) {
            throw new IllegalArgumentException("bad service");
          }
        };
    runner()
        .withBean(Transport.class, () -> counting)
        .withBean(ConfigValidator.class, () -> refuseBad)
        .withBean(Recorder.class)
        .run(
            context -> {
              ConfigSyncClient client = context.getBean(ConfigSyncClient.class);
              await().until(() -> good.equals(client.status().hash()));
              assertThat(connects).hasPositiveValue();
              cp.publish("{\"services\":[{\"name\":\"bad\"}]}");
              Recorder recorder = context.getBean(Recorder.class);
              await()
                  .until(
                      () ->
                          recorder.events().stream()
                              .anyMatch(e -> e instanceof SyncEvent.SnapshotRejected));
              assertThat(client.status().hash()).isEqualTo(good);
            });

    // The application's own client: none is built, and the starter starts and closes that one.
    ConfigSyncClient own =
        ConfigSyncClient.builder()
            .controlPlane(cp.uri())
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .build();
    new ApplicationContextRunner()
        .withConfiguration(
            AutoConfigurations.of(
                ConfigSyncAutoConfiguration.class, ConfigSyncActuatorAutoConfiguration.class))
        .withBean(ConfigSyncClient.class, () -> own)
        .run(
            context -> {
              assertThat(context).hasNotFailed().hasSingleBean(ConfigSyncClient.class);
              assertThat(context.getBean(ConfigSyncClient.class)).isSameAs(own);
              assertThat(context).doesNotHaveBean(Transport.class);
              String latest = cp.latestHash().orElseThrow();
              await().until(() -> latest.equals(own.status().hash()));
              assertThat(context).hasSingleBean(ConfigSyncHealthIndicator.class);
            });
    assertThat(own.status().state()).isEqualTo(SyncState.CLOSED);
  }

  @Test
  void wrongValuesFailTheStartNamingTheProperty() throws Exception {
    assertStartFails(List.of("configsync.heartbeat-interval=0s"), "heartbeatInterval");
    assertStartFails(
        List.of("configsync.heartbeat-interval=10s", "configsync.dead-after=5s"), "deadAfter");
    assertStartFails(
        List.of("configsync.tls.cert=" + temp.resolve("missing.crt")), "tls.cert", "no such file");
    assertStartFails(
        List.of("configsync.control-plane=https://cp.example.com"), "controlPlane", "wss://");
    assertStartFails(List.of("configsync.tls.mode=none"), "tls.mode");
    assertStartFails(List.of("configsync.usage.batch-size=0"), "usage.batchSize");
    assertStartFails(List.of("configsync.cache.journal-records=-1"), "cache.journalRecords");
    assertStartFails(List.of("configsync.cache.journal-fraction=0"), "cache.journalFraction");

    Path garbage = temp.resolve("garbage.key");
    Files.writeString(garbage, "not a key");
    assertPropertyRefused(List.of("configsync.tls.key=" + garbage), "configsync.tls.key");
    assertPropertyRefused(
        List.of("configsync.license.public-key=nonsense"), "configsync.license.public-key");
    assertPropertyRefused(
        List.of("configsync.cache.encryption-key-file=" + garbage),
        "configsync.cache.encryption-key-file");
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(ConfigSyncAutoConfiguration.class))
        .withPropertyValues("configsync.tls.cert=" + tls.resolve("dp.crt"))
        .run(
            context -> {
              InvalidConfigSyncPropertyException e = invalidProperty(context.getStartupFailure());
              assertThat(e.property()).isIn("configsync.control-plane", "configsync.tls.key");
            });
  }

  private void assertStartFails(List<String> properties, String... expected) {
    runner()
        .withPropertyValues(properties.toArray(String[]::new))
        .run(
            context -> {
              assertThat(context).hasFailed();
              String messages = messages(context.getStartupFailure());
              for (String e : expected) {
                assertThat(messages).contains(e);
              }
            });
  }

  private void assertPropertyRefused(List<String> properties, String property) {
    runner()
        .withPropertyValues(properties.toArray(String[]::new))
        .run(
            context -> {
              assertThat(context).hasFailed();
              InvalidConfigSyncPropertyException e = invalidProperty(context.getStartupFailure());
              assertThat(e.property()).isEqualTo(property);
              FailureAnalysis analysis =
                  new InvalidConfigSyncPropertyFailureAnalyzer()
                      .analyze(context.getStartupFailure());
              assertThat(analysis).isNotNull();
              assertThat(analysis.getDescription()).contains(property);
            });
  }

  private static InvalidConfigSyncPropertyException invalidProperty(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof InvalidConfigSyncPropertyException e) {
        return e;
      }
    }
    throw new AssertionError("no InvalidConfigSyncPropertyException in", failure);
  }

  private static String messages(Throwable failure) {
    StringBuilder out = new StringBuilder();
    for (Throwable t = failure; t != null; t = t.getCause()) {
      out.append(t.getMessage()).append('\n');
    }
    return out.toString();
  }

  @Test
  void theStarterShipsMetadataForEveryProperty() throws Exception {
    String metadata;
    try (var in =
        getClass()
            .getClassLoader()
            .getResourceAsStream("META-INF/spring-configuration-metadata.json")) {
      assertThat(in).isNotNull();
      metadata = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    for (String property :
        List.of(
            "configsync.control-plane",
            "configsync.tls.key-passphrase",
            "configsync.tls.server-name",
            "configsync.cache.encryption-key-file",
            "configsync.cache.old-encryption-key-files",
            "configsync.fallback-config",
            "configsync.backup.import-directory",
            "configsync.license.public-key",
            "configsync.capabilities",
            "configsync.labels",
            "configsync.heartbeat-interval",
            "configsync.reconnect.max-delay",
            "configsync.usage.max-keys",
            "configsync.startup-wait",
            "management.health.configsync.enabled")) {
      assertThat(metadata).contains("\"" + property + "\"");
    }
    assertThat(metadata.replaceAll("\\s", "")).contains("\"defaultValue\":\"16MB\"");
  }

  @Test
  void withoutActuatorTheClientIsConfiguredWithoutHealthAndInfo() {
    runner()
        .withClassLoader(
            new FilteredClassLoader(
                "org.springframework.boot.health.", "org.springframework.boot.actuate."))
        .run(
            context -> {
              assertThat(context).hasNotFailed().hasSingleBean(ConfigSyncClient.class);
              assertThat(context).doesNotHaveBean(ConfigSyncHealthIndicator.class);
              assertThat(context).doesNotHaveBean(ConfigSyncInfoContributor.class);
            });
  }

  @Test
  void healthAndInfoCanBeTurnedOff() {
    runner()
        .withPropertyValues(
            "management.health.configsync.enabled=false",
            "management.info.configsync.enabled=false")
        .run(
            context -> {
              assertThat(context).hasNotFailed().hasSingleBean(ConfigSyncClient.class);
              assertThat(context).doesNotHaveBean(ConfigSyncHealthIndicator.class);
              assertThat(context).doesNotHaveBean(ConfigSyncInfoContributor.class);
            });
  }

  @Test
  void disabledMeansNoClient() {
    runner()
        .withPropertyValues("configsync.enabled=false")
        .run(context -> assertThat(context).doesNotHaveBean(ConfigSyncClient.class));
  }
}
