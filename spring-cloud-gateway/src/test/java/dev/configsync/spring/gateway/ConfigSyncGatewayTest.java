package dev.configsync.spring.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.configsync.ConfigSyncClient;
import dev.configsync.spring.boot.ConfigSyncClientCustomizer;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.cloud.gateway.filter.GlobalFilter;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A real Spring Cloud Gateway application with the starter and this module only, routing real HTTP
 * to two upstreams by the configuration a real control plane (mutual TLS, 127.0.0.1) sends.
 */
@SpringBootTest(
    classes = ConfigSyncGatewayTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "configsync.startup-wait=30s",
      "configsync.heartbeat-interval=1s",
      "configsync.reconnect.min-delay=50ms",
      "configsync.reconnect.max-delay=200ms",
      "configsync.usage.flush-interval=200ms"
    })
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConfigSyncGatewayTest {
  /** The short license's last day; it expires at {@link #EXPIRY}. */
  static final LocalDate SHORT = LocalDate.of(2030, 1, 31);

  static final Instant EXPIRY = SHORT.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
  static final LocalDate LONG = SHORT.plusYears(1);
  static final GatewayTestSupport.HandClock CLOCK =
      new GatewayTestSupport.HandClock(EXPIRY.minusSeconds(86_400));

  static TestControlPlane cp;
  static HttpServer a;
  static HttpServer b;
  static GatewayTestSupport.Licenses licenses;

  @SpringBootApplication
  static class App {
    @Bean
    ConfigSyncClientCustomizer handClock() {
      return builder -> builder.clock(CLOCK);
    }

    /** Stands for an authentication filter: names the consumer for usage telemetry. */
    @Bean
    GlobalFilter consumerFromHeader() {
      return (exchange, chain) -> {
        String consumer = exchange.getRequest().getHeaders().getFirst("X-Test-Consumer");
        if (consumer != null) {
          exchange.getAttributes().put(UsageRecordingFilter.CONSUMER_ATTRIBUTE, consumer);
        }
        return chain.filter(exchange);
      };
    }
  }

  static String config(String aPath) {
    return "{\"services\":["
        + "{\"name\":\"a\",\"url\":\"http://127.0.0.1:"
        + a.getAddress().getPort()
        + "/v1\",\"routes\":[{\"name\":\"a-api\",\"paths\":[\""
        + aPath
        + "\"]}]},"
        + "{\"name\":\"b\",\"host\":\"127.0.0.1\",\"port\":"
        + b.getAddress().getPort()
        + ",\"routes\":[{\"name\":\"b-web\",\"hosts\":[\"localhost\"],\"paths\":[\"/\"],"
        + "\"strip_path\":false}]}]}";
  }

  @DynamicPropertySource
  static void start(DynamicPropertyRegistry registry) throws Exception {
    a = GatewayTestSupport.upstream("a");
    b = GatewayTestSupport.upstream("b");
    licenses = new GatewayTestSupport.Licenses();
    TestPki pki = TestPki.create();
    cp = TestControlPlane.start(pki);
    cp.publish(licenses.licensed(config("/a"), LONG));
    Path dir = Files.createTempDirectory("configsync-gateway-test");
    Path tls = pki.writeDataPlaneFiles(dir);
    GatewayTestSupport.ownerOnly(tls.resolve("dp.key"));
    registry.add("configsync.control-plane", () -> cp.uri().toString());
    registry.add("configsync.tls.cert", () -> tls.resolve("dp.crt").toString());
    registry.add("configsync.tls.key", () -> tls.resolve("dp.key").toString());
    registry.add("configsync.tls.ca", () -> tls.resolve("ca.crt").toString());
    registry.add("configsync.cache.directory", () -> dir.resolve("cache").toString());
    Path key = licenses.publicKeyFile(dir);
    registry.add("configsync.license.public-key-file", key::toString);
  }

  @AfterAll
  static void stop() {
    cp.close();
    a.stop(0);
    b.stop(0);
  }

  @Autowired ConfigSyncClient client;
  @Autowired ConfigSyncRouteDefinitionLocator locator;
  @LocalServerPort int port;

  final HttpClient http = HttpClient.newHttpClient();

  HttpResponse<String> get(String host, String pathAndQuery) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + pathAndQuery)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  @Order(1)
  void routesByPathPrefixAndHostWithStripPathAndTheServicePath() throws Exception {
    HttpResponse<String> viaA = get("127.0.0.1", "/a/7?x=1");
    assertThat(viaA.statusCode()).isEqualTo(200);
    assertThat(viaA.body()).isEqualTo("a /v1/7?x=1");
    // Kong's prefix rule: /a also matches /ab.
    assertThat(get("127.0.0.1", "/ab").body()).isEqualTo("a /v1/b");
    // The host route, without strip_path; the longer path of a-api still wins for /a.
    assertThat(get("localhost", "/shop/x").body()).isEqualTo("b /shop/x");
    assertThat(get("localhost", "/a/1").body()).isEqualTo("a /v1/1");
    assertThat(get("127.0.0.1", "/shop/x").statusCode()).isEqualTo(404);
  }

  @Test
  @Order(2)
  void everyRoutedRequestIsCountedForUsageTelemetry() throws Exception {
    HttpResponse<String> named =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/a/usage"))
                .header("X-Test-Consumer", "alice")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(named.statusCode()).isEqualTo(200);
    await()
        .until(
            () ->
                cp.usageBatches().toString().contains("a-api")
                    && cp.usageBatches().toString().contains("b-web")
                    && cp.usageBatches().toString().contains("alice"));
  }

  @Test
  @Order(3)
  void aRouteChangeTakesEffectAndAConfigurationThatKeepsTheRoutesRefreshesNothing()
      throws Exception {
    long before = locator.refreshes();
    // Same routes, one more plugin: applied, but the routes stay as they are.
    String same =
        cp.publish(
            licenses.licensed(
                config("/a").replaceFirst("\\{", "{\"plugins\":[{\"name\":\"cors\"}],"), LONG));
    await().until(() -> same.equals(client.status().hash()));
    String moved = cp.publish(licenses.licensed(config("/alpha"), LONG));
    await().until(() -> get("127.0.0.1", "/alpha/7").body().equals("a /v1/7"));
    assertThat(moved).isEqualTo(client.status().hash());
    assertThat(get("127.0.0.1", "/a/7").statusCode()).isEqualTo(404);
    assertThat(locator.refreshes()).isEqualTo(before + 1);
  }

  @Test
  @Order(4)
  void aConfigurationThatCannotBecomeRoutesIsRefusedAndTheLastOneKeepsServing() throws Exception {
    String running = client.status().hash();
    long rejected = client.status().rejected();
    cp.publish(licenses.licensed(config("~/regex"), LONG));
    await().until(() -> client.status().rejected() > rejected);
    assertThat(client.status().hash()).isEqualTo(running);
    assertThat(client.status().lastError()).contains("a-api").contains("regular expression");
    assertThat(get("127.0.0.1", "/alpha/8").body()).isEqualTo("a /v1/8");
  }

  @Test
  @Order(5)
  void anExpiredLicenseIsAnswered503AndARenewedOneServesAgain() throws Exception {
    // Two seconds before the short license expires, by the client's clock.
    CLOCK.now = EXPIRY.minusSeconds(2);
    String expiring = cp.publish(licenses.licensed(config("/alpha"), SHORT));
    await().until(() -> expiring.equals(client.status().hash()));
    CLOCK.now = EXPIRY.plusSeconds(1);
    await().until(() -> get("127.0.0.1", "/alpha/1").statusCode() == 503);
    HttpResponse<String> refused = get("127.0.0.1", "/alpha/1");
    assertThat(refused.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(refused.body())
        .isEqualTo(
            "{\"message\":\"license expired at "
                + EXPIRY
                + ": this gateway does not serve traffic until the control plane sends a"
                + " configuration with a renewed license\"}");

    cp.publish(licenses.licensed(config("/alpha"), LONG));
    await().until(() -> get("127.0.0.1", "/alpha/2").statusCode() == 200);
  }
}
